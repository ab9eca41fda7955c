"""The JSON Lines reader: tagging, classification, pair and score objects, and every way a line can be wrong."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora import jsonl
from mtl.corpora.lines import clip
from mtl.records import Record, Rejection, make_uid


def read(tmp_path: Path, text: str, **options: object) -> list[Record | Rejection]:
    path = tmp_path / "d.jsonl"
    path.write_text(text, encoding="utf-8")
    return list(jsonl.read(path, jsonl.Options(**options), corpus="c", task="t", split="train"))


def test_a_tagging_line(tmp_path: Path) -> None:
    line = json.dumps({"tokens": ["New", "York"], "tags": ["B-location", "I-location"], "id": 7})
    (record,) = read(tmp_path, line + "\n")
    assert record == Record(
        uid=make_uid("c", "train", "d.jsonl:1"),
        task="t",
        split="train",
        fields={"tokens": ["New", "York"], "tags": ["B-location", "I-location"]},  # "id" is not a field
        source="c/d.jsonl:1",
        raw=line,
    )


@pytest.mark.parametrize(
    ("item", "tokens", "label"),
    [
        ({"text": "It's great!", "label": "pos"}, ["It", "'", "s", "great", "!"], "pos"),
        ({"text": "fine", "label": 1}, ["fine"], "1"),
        ({"text": "fine", "label": 4.5}, ["fine"], "4.5"),  # a score: the regression kind parses it
        ({"text": "fine", "label": " neg "}, ["fine"], "neg"),
        ({"tokens": ["pre", "tokenized"], "label": "x"}, ["pre", "tokenized"], "x"),
    ],
)
def test_classification_lines(tmp_path: Path, item: dict, tokens: list[str], label: str) -> None:
    (record,) = read(tmp_path, json.dumps(item) + "\n")
    assert record.fields == {"tokens": tokens, "label": label}


def test_field_names_and_tokenizer_are_options(tmp_path: Path) -> None:
    line = json.dumps({"sentence": "it 's good", "gold": "1"})
    (record,) = read(tmp_path, line + "\n", text_field="sentence", label_field="gold", tokenizer="whitespace")
    assert record.fields == {"tokens": ["it", "'s", "good"], "label": "1"}


@pytest.mark.parametrize(
    ("item", "fields"),
    [
        ({"text": "A man plays.", "text_b": "Someone plays.", "label": 4.5},
         {"tokens": ["A", "man", "plays", "."], "tokens_b": ["Someone", "plays", "."], "label": "4.5"}),
        ({"tokens": ["A", "dog"], "tokens_b": ["An", "animal"], "label": "ENTAILMENT"},
         {"tokens": ["A", "dog"], "tokens_b": ["An", "animal"], "label": "ENTAILMENT"}),
    ],
    ids=["texts-and-a-score", "tokens-and-a-label"],
)
def test_pairs(tmp_path: Path, item: dict, fields: dict) -> None:
    (record,) = read(tmp_path, json.dumps(item) + "\n")
    assert record.fields == fields


@pytest.mark.parametrize(
    ("item", "fields"),
    [
        ({"tokens": ["a"]}, {"tokens": ["a"]}),
        ({"tokens": ["a"], "tags": ["O"], "label": "x"}, {"tokens": ["a"], "tags": ["O"], "label": "x"}),
        ({"tokens": ["a", "b"], "tags": ["O"]}, {"tokens": ["a", "b"], "tags": ["O"]}),
        ({"tokens": ["a\u0000b", "\ufeff"], "label": "\ud800"}, {"tokens": ["a\x00b", "\ufeff"], "label": "\ud800"}),
    ],
    ids=["no-target", "both-targets", "tags-short", "bad-characters"],
)
def test_what_fits_the_task_is_for_its_kind_and_validation_to_judge(tmp_path: Path, item: dict, fields: dict) -> None:
    """The reader does not know the task: a missing target, a tag count or a NUL is judged after it."""
    (record,) = read(tmp_path, json.dumps(item) + "\n")
    assert record.fields == fields


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"tokens": ["a" "b"], "tags": ["O", "O"]}', "invalid JSON: Expecting ',' delimiter at column 17"),
        ("{'tokens': ['a']}", "invalid JSON: Expecting property name enclosed in double quotes at column 2"),
        ('{"text": "a", "label": "x"} trailing', "invalid JSON: Extra data at column 29"),
        ('["a", "b"]', "expected a JSON object, found an array"),
        ("42", "expected a JSON object, found a number"),
        ("null", "expected a JSON object, found null"),
        ('{"label": "x"}', "missing field 'tokens' or 'text'"),
        ('{"tokens": "a b", "tags": ["O"]}', "field 'tokens' must be a non-empty list of strings, found a string"),
        ('{"tokens": [], "tags": []}', "field 'tokens' must be a non-empty list of strings, found an empty array"),
        ('{"tokens": ["a", 1], "tags": ["O", "O"]}',
         "field 'tokens': item 1 must be a non-empty string, found a number"),
        ('{"tokens": ["a", ""], "tags": ["O", "O"]}',
         "field 'tokens': item 1 must be a non-empty string, found an empty string"),
        ('{"tokens": ["a"], "tags": [null]}', "field 'tags': item 0 must be a non-empty string, found null"),
        ('{"tokens": ["a"], "tags": {"0": "O"}}', "field 'tags' must be a non-empty list of strings, found an object"),
        ('{"text": 42, "label": "x"}', "field 'text' must be a string, found a number"),
        ('{"text": "   ", "label": "x"}', "field 'text' holds no tokens"),
        ('{"text": "a", "label": true}', "field 'label' must be a non-empty string or a number, found a boolean"),
        ('{"text": "a", "label": " "}', "field 'label' must be a non-empty string or a number, found an empty string"),
        ('{"text": "a", "label": ["x"]}', "field 'label' must be a non-empty string or a number, found an array"),
        ('{"text": "a", "text_b": 7, "label": "x"}', "field 'text_b' must be a string, found a number"),
        ('{"text": "a", "tokens_b": [], "label": "x"}',
         "field 'tokens_b' must be a non-empty list of strings, found an empty array"),
        ("[" * 200_000, "JSON nested deeper than 100 arrays or objects"),  # before: a RecursionError stopped the stage
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "JSON nested deeper than 100 arrays or objects"),
        ('{"text": "a", "label": "x", "n": ' + "[" * 100 + "]" * 100 + "}", "JSON nested deeper than 100 arrays or objects"),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_bad_lines_are_rejected_with_the_reason(tmp_path: Path, line: str, reason: str) -> None:
    good = '{"text": "ok", "label": "x"}'
    got = read(tmp_path, f"{good}\n{line}\n{good}\n")
    assert got[1] == Rejection(source="c/d.jsonl:2", split="train", raw=clip(line), reason=reason, key="bad_json")
    assert [type(r) for r in got] == [Record, Rejection, Record]


@pytest.mark.parametrize("recursion_limit", [1_000, 20_000])
def test_how_deep_a_line_may_nest_does_not_depend_on_the_interpreters_recursion_limit(
        tmp_path: Path, recursion_limit: int) -> None:
    """torch.compile (and other libraries) raise the recursion limit for the whole process, which is the JSON
    parser's own depth limit: the reader's is its own. Brackets inside strings do not nest."""
    deep = '{"text": "a", "label": "x", "n": ' + "[" * 5_000 + "]" * 5_000 + "}"  # parses under a 20,000 limit
    at_the_limit = '{"text": "a", "label": "x", "n": ' + "[" * 99 + "]" * 99 + "}"  # 100 levels with the object
    in_a_string = '{"text": "' + "[" * 500 + '", "label": "x"}'
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(recursion_limit)
    try:
        got = read(tmp_path, f"{deep}\n{at_the_limit}\n{in_a_string}\n")
    finally:
        sys.setrecursionlimit(before)
    assert [type(r) for r in got] == [Rejection, Record, Record]
    assert got[0].reason == "JSON nested deeper than 100 arrays or objects"


def test_blank_lines_are_not_records(tmp_path: Path) -> None:
    good = '{"text": "ok", "label": "x"}'
    got = read(tmp_path, f"\n{good}\n  \n\n{good}")
    assert [r.source for r in got] == ["c/d.jsonl:2", "c/d.jsonl:5"]


@pytest.mark.parametrize("options", [{"tokenizer": "spacy"}, {"token_field": "words"}])
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ValidationError):
        jsonl.Options(**options)
