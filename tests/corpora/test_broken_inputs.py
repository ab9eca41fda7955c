"""Every committed broken fixture (tests/fixtures/broken/) read by its reader: the exact outcome, unit by unit."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from mtl.corpora import conll, conllu, delimited, jsonl, label_prefixed
from mtl.records import Record, Rejection

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken"
TSV = {"text_column": "sentence", "label_column": "label"}
WNUT = {"separator": "tab", "token_column": 0, "tag_column": 1}


def read(module: ModuleType, name: str, **options: object) -> list[Record | Rejection]:
    path = BROKEN / name
    return list(module.read(path, module.Options(**options), corpus="broken", task="t", split="train"))


def outcome(items: list[Record | Rejection]) -> list[tuple]:
    """Each unit as (source, tokens, tags or label) when accepted, (source, reason) when rejected."""
    return [
        (r.source, r.reason) if isinstance(r, Rejection) else (r.source, r.tokens, r.tags or r.label)
        for r in items
    ]


def test_fixtures_are_byte_exact() -> None:
    """The fixtures must keep their CR bytes, BOM and bad bytes (see .gitattributes: -text)."""
    assert (BROKEN / "crlf.conll").read_bytes().count(b"\r\n") == 4
    assert (BROKEN / "bom.tsv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\xf0" in (BROKEN / "invalid_utf8.label").read_bytes()
    assert (BROKEN / "empty.txt").stat().st_size == 0


def test_truncated_conllu() -> None:
    items = read(conllu, "truncated.conllu")
    assert outcome(items) == [
        ("broken/truncated.conllu:1", ["The", "cat", "sleeps", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
        ("broken/truncated.conllu:8", "line 11: expected 10 tab-separated columns, found 7"),
    ]
    assert items[1].raw.endswith("2\tbark\tbark\tVERB\tVBP\t_\t0")


def test_invalid_utf8_in_a_conllu_sentence() -> None:
    items = read(conllu, "invalid_utf8.conllu")
    assert outcome(items) == [
        ("broken/invalid_utf8.conllu:1", "line 3: invalid utf-8 byte 0xE9 at column 6"),
        ("broken/invalid_utf8.conllu:5", ["Hi"], ["INTJ"]),
    ]
    assert "2\tcaf\\xe9\tcafe" in items[0].raw


def test_wrong_column_count_conll() -> None:
    items = read(conll, "wrong_columns.conll", **WNUT)
    assert outcome(items) == [
        ("broken/wrong_columns.conll:1", ["Paris", "is", "nice"], ["B-location", "O", "O"]),
        ("broken/wrong_columns.conll:5", "line 6: expected at least 2 columns, found 1"),
        ("broken/wrong_columns.conll:8", ["Tokyo"], ["B-location"]),
    ]
    assert items[1].raw == "London\tB-location\ncalling"


def test_wrong_column_count_tsv() -> None:
    items = read(delimited, "wrong_columns.tsv", **TSV)
    assert outcome(items) == [
        ("broken/wrong_columns.tsv:2", ["a", "fine", "film"], "1"),
        ("broken/wrong_columns.tsv:3", "expected 2 columns, found 3"),
        ("broken/wrong_columns.tsv:4", ["bad"], "0"),
    ]
    assert items[1].raw == "a dull\tfilm \t0"


def test_invalid_utf8_label_prefixed() -> None:
    items = read(label_prefixed, "invalid_utf8.label")
    assert outcome(items) == [
        ("broken/invalid_utf8.label:1", ["How", "far", "is", "it", "from", "Denver", "to", "Aspen", "?"], "NUM"),
        ("broken/invalid_utf8.label:2", "invalid utf-8 byte 0xF0 at column 60"),
        ("broken/invalid_utf8.label:3", ["Who", "wrote", "Hamlet", "?"], "HUM"),
    ]
    assert items[1].raw == "LOC:city Which city has the oldest relationship as a sister\\xf0city with Los Angeles ?"
    latin1 = read(label_prefixed, "invalid_utf8.label", encoding="latin-1", granularity="fine")
    assert [r.label for r in latin1] == ["NUM:dist", "LOC:city", "HUM:ind"]
    assert latin1[1].tokens[8] == "sister\u00f0city"


def test_crlf_reads_like_lf(tmp_path: Path) -> None:
    lf = tmp_path / "crlf.conll"
    lf.write_bytes((BROKEN / "crlf.conll").read_bytes().replace(b"\r\n", b"\n"))
    crlf_items = read(conll, "crlf.conll", **WNUT)
    lf_items = list(conll.read(lf, conll.Options(**WNUT), corpus="broken", task="t", split="train"))
    assert crlf_items == lf_items
    assert outcome(crlf_items) == [
        ("broken/crlf.conll:1", ["Paris", "is"], ["B-location", "O"]),
        ("broken/crlf.conll:4", ["hi"], ["O"]),
    ]
    assert "\r" not in crlf_items[0].raw


def test_bom_does_not_hide_the_first_header_name() -> None:
    assert outcome(read(delimited, "bom.tsv", **TSV)) == [("broken/bom.tsv:2", ["a", "good", "film"], "1")]


@pytest.mark.parametrize(
    ("module", "options"),
    [(conllu, {}), (conll, WNUT), (delimited, TSV), (delimited, {"header": False, "text_column": 0, "label_column": 1}),
     (label_prefixed, {}), (jsonl, {})],
    ids=["conllu", "conll", "tsv", "tsv-no-header", "label_prefixed", "jsonl"],
)
def test_empty_file_yields_nothing(module: ModuleType, options: dict) -> None:
    assert read(module, "empty.txt", **options) == []


def test_header_only_tsv_yields_nothing() -> None:
    assert read(delimited, "header_only.tsv", **TSV) == []


def test_a_tag_outside_the_label_set_reads_fine() -> None:
    """Readers do not know label sets: validation quarantines B-alien later."""
    assert outcome(read(conll, "alien_tag.conll")) == [
        ("broken/alien_tag.conll:1", ["Mars", "attacks"], ["B-alien", "O"])
    ]


def test_invalid_json_lines() -> None:
    assert outcome(read(jsonl, "invalid.jsonl")) == [
        ("broken/invalid.jsonl:1", ["New", "York"], ["B-location", "I-location"]),
        ("broken/invalid.jsonl:2", "invalid JSON: Expecting ',' delimiter at column 17"),
        ("broken/invalid.jsonl:3", "expected a JSON object, found an array"),
        ("broken/invalid.jsonl:4", "expected one of the fields 'tags' or 'label', found neither"),
        ("broken/invalid.jsonl:5", "2 tokens but 1 tags"),
        ("broken/invalid.jsonl:6", ["good", "film"], "1"),
        ("broken/invalid.jsonl:7", "field 'text' must be a string, found a number"),
        ("broken/invalid.jsonl:9", "invalid JSON: Expecting ',' delimiter at column 33"),
    ]


def test_a_huge_line_is_quarantined_and_the_next_line_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.label"
    with path.open("wb") as file:
        file.write(b"HUM:ind Who ?\nDESC:def " + b"word " * 600_000 + b"?\nNUM:count How many ?\n")
    items = list(label_prefixed.read(path, label_prefixed.Options(), corpus="c", task="t", split="train",
                                     max_line_bytes=1_000_000))
    assert outcome(items) == [
        ("c/huge.label:1", ["Who", "?"], "HUM"),
        ("c/huge.label:2", "line of 3000010 bytes exceeds max_line_bytes=1000000"),
        ("c/huge.label:3", ["How", "many", "?"], "NUM"),
    ]
    assert items[1].raw.startswith("DESC:def word word") and items[1].raw.endswith("... [2998010 more bytes]")
