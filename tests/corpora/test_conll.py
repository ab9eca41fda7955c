"""The CoNLL columns reader: separators, sentence boundaries, -DOCSTART-, columns, BIO normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora import conll
from mtl.records import Record, Rejection, make_uid


def read(tmp_path: Path, text: str, **options: object) -> list[Record | Rejection]:
    path = tmp_path / "f.conll"
    path.write_text(text, encoding="utf-8")
    return list(conll.read(path, conll.Options(**options), corpus="wnut", task="ner", split="test"))


def test_a_sentence_becomes_one_record(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "New\tB-location\nYork\tI-location\nrocks\tO\n", separator="tab", tag_column=1)
    assert record == Record(
        uid=make_uid("wnut", "test", "f.conll:1"),
        task="ner",
        split="test",
        fields={"tokens": ["New", "York", "rocks"], "tags": ["B-location", "I-location", "O"]},
        source="wnut/f.conll:1",
        raw="New\tB-location\nYork\tI-location\nrocks\tO",
    )


@pytest.mark.parametrize(
    ("separator", "line", "token"),
    [("tab", "New York\tB-loc", "New York"), ("space", "New B-loc", "New"), ("whitespace", "New \t B-loc", "New")],
)
def test_separators(tmp_path: Path, separator: str, line: str, token: str) -> None:
    (record,) = read(tmp_path, line + "\n", separator=separator)
    assert record.fields == {"tokens": [token], "tags": ["B-loc"]}


@pytest.mark.parametrize("separator_line", ["", "\t", "  ", " \t "], ids=repr)
def test_blank_and_whitespace_only_lines_separate_sentences(tmp_path: Path, separator_line: str) -> None:
    text = f"a\tO\nb\tO\n{separator_line}\nc\tO\n"
    got = read(tmp_path, text, separator="tab")
    assert [(r.source, r.tokens) for r in got] == [("wnut/f.conll:1", ["a", "b"]), ("wnut/f.conll:4", ["c"])]
    assert all("" not in r.tokens and "" not in r.fields["tags"] for r in got)


def test_docstart_lines_end_sentences_and_are_not_records(tmp_path: Path) -> None:
    text = (
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
        "-DOCSTART- -X- -X- O\n"  # no blank line around it: it still ends the sentence
        "German JJ B-NP B-MISC\n\n"
        "-DOCSTART- -X- -X- O\n"
    )
    got = read(tmp_path, text)  # CoNLL-2003: 4 columns, token first, tag last
    assert [(r.source, r.tokens, r.fields["tags"]) for r in got] == [
        ("wnut/f.conll:3", ["EU", "rejects"], ["B-ORG", "O"]),
        ("wnut/f.conll:6", ["German"], ["B-MISC"]),
    ]


def test_columns_are_chosen_by_index_from_either_end(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "EU NNP B-NP\n", token_column=0, tag_column=2)
    assert record.fields["tags"] == ["B-NP"]
    (record,) = read(tmp_path, "EU NNP B-NP B-ORG\n", token_column=-4, tag_column=-3)
    assert record.fields == {"tokens": ["EU"], "tags": ["NNP"]}


@pytest.mark.parametrize(
    ("options", "line", "outcome"),
    [
        ({"separator": "tab", "tag_column": 1}, "New York\tB-loc\textra",
         "line 2: expected 2 columns, found 3 (ignore_extra_columns: true reads such lines)"),
        ({"separator": "space", "tag_column": 1}, "New York B-loc",  # before: token "New", tag "York"
         "line 2: expected 2 columns, found 3 (ignore_extra_columns: true reads such lines)"),
        ({"separator": "tab", "tag_column": 1}, "word\tO\t", "line 2: expected 2 columns, found 3 "
                                                           "(ignore_extra_columns: true reads such lines)"),
        ({"separator": "tab", "tag_column": 1, "ignore_extra_columns": True}, "word\tO\textra", ["word", "O"]),
        ({"separator": "whitespace", "token_column": 0, "tag_column": -1}, "EU NNP B-NP B-ORG", ["EU", "B-ORG"]),
    ],
    ids=["tab", "space-in-a-token", "trailing-tab", "ignored", "tag-from-the-end"],
)
def test_a_column_more_than_configured_is_refused_unless_ignored(
    tmp_path: Path, options: dict, line: str, outcome: str | list[str]
) -> None:
    """Before, an extra column was ignored silently. An index from the end (tag -1) takes lines of any width."""
    first = "a\tO" if options["separator"] == "tab" else "a O"
    got = read(tmp_path, f"{first}\n{line}\n", **options)
    if isinstance(outcome, str):
        (rejection,) = got
        assert (rejection.key, rejection.reason) == ("column_count", outcome)
    else:
        (record,) = got
        assert [record.tokens[1], record.fields["tags"][1]] == outcome


@pytest.mark.parametrize(
    ("options", "line", "key", "reason"),
    [
        ({}, "lonely", "column_count", "line 2: expected at least 2 columns, found 1"),
        ({"token_column": 0, "tag_column": 3}, "a b c", "column_count", "line 2: expected 4 columns, found 3"),
        ({"token_column": -3, "tag_column": -1}, "a b", "column_count", "line 2: expected at least 3 columns, found 2"),
        ({"token_column": 1, "tag_column": -1}, "a b", "column_count", "line 2: expected at least 3 columns, found 2"),
        ({"separator": "tab"}, "word\t", "empty_field", "line 2: empty tag"),
        ({"separator": "tab"}, "\tO", "empty_field", "line 2: empty token"),
        ({"separator": "space"}, "word O ", "empty_field", "line 2: empty tag"),
    ],
)
def test_a_bad_line_rejects_its_sentence_only(tmp_path: Path, options: dict, line: str, key: str, reason: str) -> None:
    good = "x y z O" if "tab" not in options.values() else "x\tO"
    text = f"{good}\n{line}\n{good}\n\n{good}\n"
    rejection, record = read(tmp_path, text, **options)
    assert rejection == Rejection(source="wnut/f.conll:1", split="test", raw=f"{good}\n{line}\n{good}", reason=reason,
                                  key=key)
    assert isinstance(record, Record) and record.source == "wnut/f.conll:5"


def test_tags_are_stripped_tokens_are_not(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "\ufe0f\tO \n", separator="tab")
    assert record.fields == {"tokens": ["\ufe0f"], "tags": ["O"]}


def test_an_unreadable_line_rejects_its_sentence(tmp_path: Path) -> None:
    path = tmp_path / "f.conll"
    path.write_bytes(b"a\tO\nb\xff\tO\n\nc\tO\n")
    rejection, record = conll.read(path, conll.Options(), corpus="wnut", task="ner", split="test")
    assert (rejection.source, rejection.reason) == ("wnut/f.conll:1", "line 2: invalid utf-8 byte 0xFF at column 2")
    assert rejection.raw == "a\tO\nb\\xff\tO"
    assert record.tokens == ["c"]


def test_the_last_sentence_without_a_final_blank_line(tmp_path: Path) -> None:
    got = read(tmp_path, "a O\n\nb O")
    assert [r.tokens for r in got] == [["a"], ["b"]]


@pytest.mark.parametrize(
    ("scheme", "tags", "bio"),
    [
        ("bio", ["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),
        ("bio", ["O", "I-PER", "I-PER"], ["O", "B-PER", "I-PER"]),  # an entity starting with I-
        ("bio", ["I-PER"], ["B-PER"]),
        ("bio", ["B-PER", "I-LOC"], ["B-PER", "B-LOC"]),  # I- of another type starts a new entity
        ("bio", ["B-creative-work", "I-creative-work"], ["B-creative-work", "I-creative-work"]),
        ("bio", ["S-PER", "E-PER"], ["S-PER", "E-PER"]),  # not BIO: left for validation to report
        ("io", ["I-PER", "I-PER", "O", "I-LOC", "I-PER"], ["B-PER", "I-PER", "O", "B-LOC", "B-PER"]),
        ("bioes", ["S-PER", "B-LOC", "I-LOC", "E-LOC", "O"], ["B-PER", "B-LOC", "I-LOC", "I-LOC", "O"]),
        ("bioes", ["S-PER", "S-PER", "E-LOC"], ["B-PER", "B-PER", "B-LOC"]),
        ("bioes", ["B-PER", "E-PER", "B-PER", "E-PER"], ["B-PER", "I-PER", "B-PER", "I-PER"]),
        ("bio", ["B-alien", "X", "I-", "PER"], ["B-alien", "X", "I-", "PER"]),
    ],
)
def test_to_bio(scheme: str, tags: list[str], bio: list[str]) -> None:
    assert conll.to_bio(tags, scheme) == bio


def test_tags_are_normalised_on_read(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "a S-PER\nb O\nc I-LOC\n", scheme="bioes")
    assert record.fields["tags"] == ["B-PER", "O", "B-LOC"]


@pytest.mark.parametrize(
    "options",
    [
        {"token_column": 1, "tag_column": 1},
        {"token_column": -1},
        {"scheme": "iob2"},
        {"separator": ","},
        {"sep": "tab"},
        {"ignore_extra_columns": "sometimes"},
    ],
)
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ValidationError):
        conll.Options(**options)
