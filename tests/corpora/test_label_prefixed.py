"""The label-prefixed (TREC) reader: coarse and fine labels, malformed lines, encodings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora import label_prefixed
from mtl.records import Record, Rejection, make_uid


def read(tmp_path: Path, data: str | bytes, **values: object) -> list[Record | Rejection]:
    path = tmp_path / "q.label"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    options = label_prefixed.Options(**values)
    return list(label_prefixed.read(path, options, corpus="trec", task="question", split="test"))


def test_a_line_becomes_one_record(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "NUM:dist How far is it from Denver to Aspen ?\n")
    assert record == Record(
        uid=make_uid("trec", "test", "q.label:1"),
        task="question",
        split="test",
        fields={"tokens": ["How", "far", "is", "it", "from", "Denver", "to", "Aspen", "?"], "label": "NUM"},
        source="trec/q.label:1",
        raw="NUM:dist How far is it from Denver to Aspen ?",
    )


@pytest.mark.parametrize(("granularity", "labels"), [("coarse", ["ENTY", "HUM"]), ("fine", ["ENTY:cremat", "HUM:ind"])])
def test_granularity(tmp_path: Path, granularity: str, labels: list[str]) -> None:
    got = read(tmp_path, "ENTY:cremat What film ?\nHUM:ind Who wrote `` Hamlet '' ?\n", granularity=granularity)
    assert [r.fields["label"] for r in got] == labels
    assert got[1].tokens == ["Who", "wrote", "``", "Hamlet", "''", "?"]


def test_the_label_ends_at_the_first_whitespace_of_any_kind(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "LOC:city\tWhere  is it ?  \n", granularity="fine")
    assert record.fields == {"label": "LOC:city", "tokens": ["Where", "is", "it", "?"]}


@pytest.mark.parametrize("granularity", ["coarse", "fine"])
@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ("NUM:dist", "empty_field", "no question after the label 'NUM:dist'"),
        ("NUM:dist    ", "empty_field", "no question after the label 'NUM:dist'"),
        ("NUMdist How far ?", "bad_label", "label 'NUMdist' is not of the form COARSE:fine"),
        (":dist How far ?", "bad_label", "label ':dist' is not of the form COARSE:fine"),
        ("NUM: How far ?", "bad_label", "label 'NUM:' is not of the form COARSE:fine"),
        ("How far is it ?", "bad_label", "label 'How' is not of the form COARSE:fine"),
    ],
)
def test_malformed_lines_are_rejected_at_either_granularity(
    tmp_path: Path, granularity: str, line: str, key: str, reason: str
) -> None:
    got = read(tmp_path, f"HUM:ind Who ?\n{line}\nHUM:ind Who ?\n", granularity=granularity)
    assert got[1] == Rejection(source="trec/q.label:2", split="test", raw=line, reason=reason, key=key)
    assert [type(r) for r in got] == [Record, Rejection, Record]


def test_blank_lines_are_not_records(tmp_path: Path) -> None:
    got = read(tmp_path, "\nHUM:ind Who ?\n\n \nDESC:def What is it ?\n\n")
    assert [r.source for r in got] == ["trec/q.label:2", "trec/q.label:5"]


def test_questions_joined_by_a_bare_cr_are_refused_not_merged(tmp_path: Path) -> None:
    """Before, "DESC:def What is it ?\\rHUM:ind Who ?" became one DESC record of 7 tokens and the HUM question
    was lost without a trace."""
    got = read(tmp_path, "NUM:dist How far ?\nDESC:def What is it ?\rHUM:ind Who ?\nLOC:city Where ?\n")
    assert [r.source for r in got] == ["trec/q.label:1", "trec/q.label:2", "trec/q.label:3"]
    assert (got[1].key, got[1].raw) == ("bare_cr", "DESC:def What is it ?\rHUM:ind Who ?")
    assert [type(r) for r in got] == [Record, Rejection, Record]


def test_latin1_is_read_when_configured_and_rejected_as_utf8(tmp_path: Path) -> None:
    data = b"LOC:city Which city is a sister\xf0city of Rome ?\n"
    (rejection,) = read(tmp_path, data)
    assert rejection.reason == "invalid utf-8 byte 0xF0 at column 32"
    (record,) = read(tmp_path, data, encoding="latin-1")
    assert "sister\u00f0city" in record.tokens


@pytest.mark.parametrize("options", [{"granularity": "medium"}, {"tokenizer": "chars"}, {"labels": "coarse"}])
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ValidationError):
        label_prefixed.Options(**options)
