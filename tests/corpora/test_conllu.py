"""The CoNLL-U reader: comments, words vs. ranges and empty nodes, sentence-level rejection."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora import conllu
from mtl.records import Record, Rejection, make_uid


def row(word_id: str, form: str, upos: str, xpos: str = "_") -> str:
    return "\t".join([word_id, form, form.lower(), upos, xpos, "_", "0", "dep", "_", "_"])


def read(tmp_path: Path, text: str, **options: object) -> list[Record | Rejection]:
    path = tmp_path / "f.conllu"
    path.write_text(text, encoding="utf-8")
    return list(conllu.read(path, conllu.Options(**options), corpus="ewt", task="pos", split="dev"))


SENTENCE = "\n".join(
    [
        "# newdoc id = d1",
        "# sent_id = s1",
        "# text = I don't know.",
        row("1", "I", "PRON", "PRP"),
        row("2-3", "don't", "_"),
        row("2", "do", "AUX", "VBP"),
        row("3", "n't", "PART", "RB"),
        row("4", "know", "VERB", "VB"),
        row("4.1", "knew", "VERB", "VBD"),
        row("5", ".", "PUNCT", "."),
    ]
)


def test_a_sentence_becomes_one_record_of_its_words(tmp_path: Path) -> None:
    (record,) = read(tmp_path, SENTENCE + "\n\n")
    assert record == Record(
        uid=make_uid("ewt", "dev", "f.conllu:1"),
        task="pos",
        split="dev",
        fields={"tokens": ["I", "do", "n't", "know", "."], "tags": ["PRON", "AUX", "PART", "VERB", "PUNCT"]},
        source="ewt/f.conllu:1",  # the block's first line, a comment
        raw=SENTENCE,
    )


def test_xpos_can_be_the_tag(tmp_path: Path) -> None:
    (record,) = read(tmp_path, SENTENCE + "\n", tag_column="xpos")
    assert record.fields["tags"] == ["PRP", "VBP", "RB", "VB", "."]


@pytest.mark.parametrize("ending", ["", "\n", "\n\n", "\n\n\n", "\n \n"], ids=repr)
def test_the_last_sentence_is_read_however_the_file_ends(tmp_path: Path, ending: str) -> None:
    got = read(tmp_path, SENTENCE + "\n\n" + row("1", "Hi", "INTJ") + ending)
    assert [r.source for r in got] == ["ewt/f.conllu:1", "ewt/f.conllu:12"]
    assert got[1].tokens == ["Hi"]


def test_several_blank_lines_and_a_comment_without_a_blank_before_it(tmp_path: Path) -> None:
    text = "\n\n# c\n" + row("1", "A", "DET") + "\n\n\n\t\n" + row("1", "B", "X") + "\n"
    got = read(tmp_path, text)
    assert [(r.source, r.tokens) for r in got] == [("ewt/f.conllu:3", ["A"]), ("ewt/f.conllu:8", ["B"])]


@pytest.mark.parametrize(
    ("bad_line", "key", "reason"),
    [
        ("1\tI\ti\tPRON", "column_count", "line 5: expected 10 tab-separated columns, found 4"),
        (row("1", "I", "PRON") + "\textra", "column_count", "line 5: expected 10 tab-separated columns, found 11"),
        ("1 I i PRON PRP _ 0 root _ _", "column_count", "line 5: expected 10 tab-separated columns, found 1"),
        (row("one", "I", "PRON"), "bad_word_id",
         "line 5: id 'one' is not an integer, a range (1-2) or an empty node (1.1)"),
        (row("1-x", "I", "PRON"), "bad_word_id",
         "line 5: id '1-x' is not an integer, a range (1-2) or an empty node (1.1)"),
        (row("2", "I", "PRON"), "bad_word_id", "line 5: word id 2 out of sequence, expected 1"),
        (row("1", "", "PRON"), "empty_field", "line 5: empty FORM or UPOS column"),
        (row("1", "I", ""), "empty_field", "line 5: empty FORM or UPOS column"),
    ],
)
def test_a_bad_token_line_rejects_its_sentence_only(tmp_path: Path, bad_line: str, key: str, reason: str) -> None:
    bad = "\n".join(["# sent_id = s1", "# text = I", bad_line, row("2", "ran", "VERB")])
    good = row("1", "Ok", "INTJ")
    before, rejection, after = read(tmp_path, good + "\n\n" + bad + "\n\n" + good + "\n")
    assert isinstance(before, Record) and isinstance(after, Record)
    assert rejection == Rejection(source="ewt/f.conllu:3", split="dev", raw=bad, reason=reason, key=key)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([row("1-2", "don't", "_"), row("1", "do", "AUX"), row("2-3", "n'tx", "_"), row("2", "n't", "PART"),
          row("3", "x", "X")], "line 5: range 2-3 overlaps the range 1-2 (line 3)"),
        ([row("1", "I", "PRON"), row("2-3", "don't", "_"), row("2", "do", "AUX")],
         "line 4: range 2-3 runs past the sentence's last word, 2"),
        ([row("1", "I", "PRON"), row("1-2", "Ido", "_"), row("2", "do", "AUX")],
         "line 4: range 1-2 does not start at the next word, 2"),
        ([row("1-1", "I", "_"), row("1", "I", "PRON")], "line 3: range 1-1 must span two words or more"),
        ([row("2-1", "I", "_"), row("1", "I", "PRON")], "line 3: range 2-1 must span two words or more"),
    ],
    ids=["overlap", "past-the-end", "after-its-first-word", "one-word", "reversed"],
)
def test_a_misplaced_multiword_range_rejects_its_sentence(tmp_path: Path, lines: list[str], reason: str) -> None:
    """Before, ranges were skipped unread: overlapping ones, and ones running past the sentence, passed."""
    good = row("1", "Ok", "INTJ")  # line 1; the block under test starts at line 3
    before, rejection, after = read(tmp_path, good + "\n\n" + "\n".join(lines) + "\n\n" + good + "\n")
    assert isinstance(before, Record) and isinstance(after, Record)
    assert (rejection.key, rejection.source, rejection.reason) == ("bad_range", "ewt/f.conllu:3", reason)


def test_ranges_and_empty_nodes_in_place_are_read(tmp_path: Path) -> None:
    text = "\n".join([row("1-2", "don't", "_"), row("1", "do", "AUX"), row("2", "n't", "PART"), row("2.1", "x", "X"),
                      row("3-4", "gonna", "_"), row("3", "gon", "VERB"), row("4", "na", "PART")])
    (record,) = read(tmp_path, text + "\n")
    assert record.tokens == ["do", "n't", "gon", "na"]


def test_the_first_problem_of_a_sentence_is_the_one_reported(tmp_path: Path) -> None:
    text = "\n".join([row("1", "A", "X"), "1\tB", "oops"]) + "\n"
    (rejection,) = read(tmp_path, text)
    assert rejection.reason == "line 2: expected 10 tab-separated columns, found 2"
    assert rejection.raw == text.rstrip("\n")


def test_ids_restarting_inside_a_block_reveal_a_missing_blank_line(tmp_path: Path) -> None:
    text = "\n".join([row("1", "A", "X"), row("2", "B", "X"), row("1", "C", "X")]) + "\n"
    (rejection,) = read(tmp_path, text)
    assert rejection.reason == "line 3: word id 1 out of sequence, expected 3"


def test_a_comment_after_the_tokens_rejects_the_sentence(tmp_path: Path) -> None:
    text = "\n".join([row("1", "A", "X"), "# sent_id = s2", row("1", "B", "X")]) + "\n"
    (rejection,) = read(tmp_path, text)
    assert rejection.reason == "line 2: comment line after the first token line"


@pytest.mark.parametrize(
    "block",
    ["# sent_id = lonely\n# text = nothing", row("1-2", "don't", "_"), row("1.1", "gone", "VERB")],
    ids=["comments-only", "range-only", "empty-node-only"],
)
def test_a_block_without_words_is_rejected_not_skipped(tmp_path: Path, block: str) -> None:
    (rejection,) = read(tmp_path, block + "\n")
    assert (rejection.reason, rejection.source, rejection.raw) == ("sentence has no words", "ewt/f.conllu:1", block)


def test_an_unreadable_line_rejects_its_sentence(tmp_path: Path) -> None:
    path = tmp_path / "f.conllu"
    path.write_bytes(b"# c\n" + row("1", "caf", "NOUN").replace("caf", "caf\xe9").encode("latin-1") + b"\n\n")
    (rejection,) = conllu.read(path, conllu.Options(), corpus="ewt", task="pos", split="dev")
    assert (rejection.key, rejection.reason) == ("decode_error", "line 2: invalid utf-8 byte 0xE9 at column 6")
    assert rejection.raw.startswith("# c\n1\tcaf\\xe9\t")


def test_an_empty_file_yields_nothing(tmp_path: Path) -> None:
    assert read(tmp_path, "") == []


def test_a_missing_file_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.conllu"):
        list(conllu.read(tmp_path / "nope.conllu", conllu.Options(), corpus="c", task="t", split="train"))


@pytest.mark.parametrize("options", [{"tag_column": "deprel"}, {"tag_colum": "upos"}])
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ValidationError):
        conllu.Options(**options)
