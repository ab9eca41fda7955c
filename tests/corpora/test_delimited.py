"""The delimited (TSV/CSV) reader: header names or indices, stripping, column counts, CSV quoting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora import delimited
from mtl.records import Record, Rejection, make_uid

SST = {"text_column": "sentence", "label_column": "label"}


def read(tmp_path: Path, data: str | bytes, **options: object) -> list[Record | Rejection]:
    path = tmp_path / "f.tsv"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return list(delimited.read(path, delimited.Options(**options), corpus="sst2", task="sentiment", split="train"))


def test_rows_by_header_name_with_fields_stripped(tmp_path: Path) -> None:
    got = read(tmp_path, "sentence\tlabel\nhide new secretions \t0\nclichés galore \t1\n", **SST)
    assert got[0] == Record(
        uid=make_uid("sst2", "train", "f.tsv:2"),
        task="sentiment",
        split="train",
        tokens=["hide", "new", "secretions"],
        tags=[],
        label="0",
        source="sst2/f.tsv:2",
        raw="hide new secretions \t0",
    )
    assert (got[1].tokens, got[1].label, got[1].source) == (["clichés", "galore"], "1", "sst2/f.tsv:3")


def test_header_names_may_come_in_any_order(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "label\tid\tsentence\n1\t7\ta film\n", **SST)
    assert (record.tokens, record.label) == (["a", "film"], "1")


def test_without_a_header_the_first_line_is_data(tmp_path: Path) -> None:
    got = read(tmp_path, "unflinchingly bleak \t0\nwarm \t1\n", header=False, text_column=0, label_column=1)
    assert [(r.source, r.tokens, r.label) for r in got] == [
        ("sst2/f.tsv:1", ["unflinchingly", "bleak"], "0"),
        ("sst2/f.tsv:2", ["warm"], "1"),
    ]


def test_columns_by_index_with_a_header(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "index\tsentence\n0\tit 's a film\n", text_column=1, label_column=0)
    assert (record.tokens, record.label) == (["it", "'s", "a", "film"], "0")


@pytest.mark.parametrize(
    ("data", "options", "reason", "line"),
    [
        ("sentence\tlabel\na\tb\t0\n", SST, "expected 2 columns, found 3", 2),
        ("sentence\tlabel\nno label here\n", SST, "expected 2 columns, found 1", 2),
        ("sentence\tlabel\n \t1\n", SST, "empty text field", 2),
        ("sentence\tlabel\nfine film\t \n", SST, "empty label field", 2),
        ("x\t1\na\tb\t1\n", {"header": False, "text_column": 0, "label_column": 1}, "expected 2 columns, found 3", 2),
        ("a\t1\n", {"header": False, "text_column": 0, "label_column": 2}, "expected 3 columns, found 2", 1),
        ("a\t1\t\n", {"header": False, "text_column": 0, "label_column": 1, "columns": 2},
         "expected 2 columns, found 3", 1),
    ],
)
def test_bad_rows_are_rejected(tmp_path: Path, data: str, options: dict, reason: str, line: int) -> None:
    rejection = next(r for r in read(tmp_path, data, **options) if isinstance(r, Rejection))
    assert rejection == Rejection(
        source=f"sst2/f.tsv:{line}", split="train", raw=data.split("\n")[line - 1], reason=reason
    )


def test_every_row_is_accounted_for(tmp_path: Path) -> None:
    data = "sentence\tlabel\ngood\t1\n\nbad\t0\textra\n  \nfine\t1\n"  # blank lines hold no data
    got = read(tmp_path, data, **SST)
    assert [(type(r).__name__, r.source) for r in got] == [
        ("Record", "sst2/f.tsv:2"),
        ("Rejection", "sst2/f.tsv:4"),
        ("Record", "sst2/f.tsv:6"),
    ]


@pytest.mark.parametrize("data", ["", "sentence\tlabel\n", "sentence\tlabel", "\n\n"], ids=repr)
def test_an_empty_or_header_only_file_yields_nothing(tmp_path: Path, data: str) -> None:
    assert read(tmp_path, data, **SST) == []


def test_an_unreadable_row_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    got = read(tmp_path, b"sentence\tlabel\nna\xefve\t1\ngood\t1\n", **SST)
    assert got[0] == Rejection(
        source="sst2/f.tsv:2", split="train", raw="na\\xefve\t1", reason="invalid utf-8 byte 0xEF at column 3"
    )
    assert got[1].tokens == ["good"]


def test_an_unreadable_header_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"f\.tsv: cannot read the header line: invalid utf-8 byte 0xE9"):
        read(tmp_path, b"sentenc\xe9\tlabel\na\t1\n", **SST)


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        ("text\tlabel", SST, r"f\.tsv: no column named 'sentence' in the header \['text', 'label'\]"),
        ("sentence\tsentence\tlabel", SST, r"more than one column named 'sentence'"),
        ("sentence\tlabel", {"text_column": 0, "label_column": 2}, r"column index 2, but the header has 2 columns"),
    ],
)
def test_columns_the_header_cannot_give_are_errors(tmp_path: Path, header: str, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read(tmp_path, header + "\na\tb\tc\n", **options)


def test_csv_quoting_keeps_delimiters_and_line_ends_inside_fields(tmp_path: Path) -> None:
    data = 'text,label\n"a, b",1\n"two\nlines",0\n"say ""hi""",1\nplain,0\n'
    got = read(tmp_path, data, delimiter=",", quoting="csv", text_column="text", label_column="label")
    assert [(r.source, r.tokens, r.label) for r in got] == [
        ("sst2/f.tsv:2", ["a,", "b"], "1"),
        ("sst2/f.tsv:3", ["two", "lines"], "0"),  # the row's first line
        ("sst2/f.tsv:5", ['say', '"hi"'], "1"),
        ("sst2/f.tsv:6", ["plain"], "0"),
    ]
    assert got[1].raw == '"two\nlines",0'


def test_csv_rows_that_cannot_be_parsed_are_rejected(tmp_path: Path) -> None:
    data = b'text,label\n"bad"x,1\nok,1\n"caf\xe9\nau lait",1\n"unclosed,0\nmore,1\n'
    got = read(tmp_path, data, delimiter=",", quoting="csv", text_column="text", label_column="label")
    assert [(r.source, r.reason if isinstance(r, Rejection) else r.tokens) for r in got] == [
        ("sst2/f.tsv:2", "malformed CSV: ',' expected after '\"'"),
        ("sst2/f.tsv:3", ["ok"]),
        ("sst2/f.tsv:4", "invalid utf-8 byte 0xE9 at column 5"),
        ("sst2/f.tsv:6", "malformed CSV: unexpected end of data"),  # the open quote swallows the rest
    ]
    assert got[2].raw == '"caf\\xe9\nau lait",1'
    assert got[3].raw == '"unclosed,0\nmore,1'


def test_text_is_tokenized_with_the_chosen_tokenizer(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "sentence\tlabel\nIt's great!\tpos\n", tokenizer="wordpunct", **SST)
    assert record.tokens == ["It", "'", "s", "great", "!"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"header": False, "text_column": "sentence", "label_column": 1}, "header: false"),
        ({"text_column": 0, "label_column": 0}, "both 0"),
        ({"text_column": -1, "label_column": 0}, "negative"),
        ({"header": False, "text_column": 0, "label_column": 3, "columns": 2}, "column index 3 but columns: 2"),
        ({**SST, "columns": 2}, "only for files without a header"),
        ({**SST, "delimiter": ""}, "non-empty"),
        ({**SST, "delimiter": "::", "quoting": "csv"}, "one-character delimiter"),
        ({**SST, "tokenizer": "bpe"}, "tokenizer"),
        ({**SST, "quoting": "excel"}, "quoting"),
        ({"text_column": "sentence"}, "label_column"),
    ],
)
def test_bad_options_are_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        delimited.Options(**options)
