"""The delimited (TSV/CSV) reader: header names or indices, stripping, column counts, CSV quoting, texts from
several columns, unescaping, split and label maps, header lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mtl.corpora import delimited
from mtl.corpora.lines import Header, ReaderError
from mtl.records import Record, Rejection, make_uid

SST = {"text_column": "sentence", "label_column": "label"}


def read_all(tmp_path: Path, data: str | bytes, **options: object) -> list[Record | Rejection | Header]:
    path = tmp_path / "f.tsv"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return list(delimited.read(path, delimited.Options(**options), corpus="sst2", task="sentiment", split="train"))


def read(tmp_path: Path, data: str | bytes, **options: object) -> list[Record | Rejection]:
    """The units of input: what read_all gives but the header line."""
    return [item for item in read_all(tmp_path, data, **options) if not isinstance(item, Header)]


def test_rows_by_header_name_with_fields_stripped(tmp_path: Path) -> None:
    got = read(tmp_path, "sentence\tlabel\nhide new secretions \t0\nclichés galore \t1\n", **SST)
    assert got[0] == Record(
        uid=make_uid("sst2", "train", "f.tsv:2"),
        task="sentiment",
        split="train",
        fields={"tokens": ["hide", "new", "secretions"], "label": "0"},
        source="sst2/f.tsv:2",
        raw="hide new secretions \t0",
    )
    assert (got[1].fields, got[1].source) == ({"tokens": ["clichés", "galore"], "label": "1"}, "sst2/f.tsv:3")


def test_header_names_may_come_in_any_order(tmp_path: Path) -> None:
    (record,) = read(tmp_path, "label\tid\tsentence\n1\t7\ta film\n", **SST)
    assert record.fields == {"tokens": ["a", "film"], "label": "1"}


def test_without_a_header_the_first_line_is_data(tmp_path: Path) -> None:
    got = read(tmp_path, "unflinchingly bleak \t0\nwarm \t1\n", header=False, text_column=0, label_column=1)
    assert [(r.source, r.tokens, r.fields["label"]) for r in got] == [
        ("sst2/f.tsv:1", ["unflinchingly", "bleak"], "0"),
        ("sst2/f.tsv:2", ["warm"], "1"),
    ]


def test_columns_by_index_with_a_header(tmp_path: Path) -> None:
    header, record = read_all(tmp_path, "index\tsentence\n0\tit 's a film\n", text_column=1, label_column=0)
    assert record.fields == {"tokens": ["it", "'s", "a", "film"], "label": "0"}
    # the header line is not a unit, but it is not dropped unseen either: it goes to the report
    assert header == Header("sst2/f.tsv:1", "index\tsentence", {"tokens": ["sentence"], "label": "index"})


@pytest.mark.parametrize(
    ("data", "options", "key", "reason", "line"),
    [
        ("sentence\tlabel\na\tb\t0\n", SST, "column_count", "expected 2 columns, found 3", 2),
        ("sentence\tlabel\nno label here\n", SST, "column_count", "expected 2 columns, found 1", 2),
        ("sentence\tlabel\n \t1\n", SST, "empty_field", "empty text field", 2),
        ("sentence\tlabel\nfine film\t \n", SST, "empty_field", "empty label field", 2),
        ("x\t1\na\tb\t1\n", {"header": False, "text_column": 0, "label_column": 1}, "column_count",
         "expected 2 columns, found 3", 2),
        ("a\t1\n", {"header": False, "text_column": 0, "label_column": 2}, "column_count",
         "expected 3 columns, found 2", 1),
        ("a\t1\t\n", {"header": False, "text_column": 0, "label_column": 1, "columns": 2}, "column_count",
         "expected 2 columns, found 3", 1),
        ("sentence\tlabel\nfine\t7\n", {**SST, "label_map": {"0": "negative", "1": "positive"}}, "unknown_label",
         "label '7' is not in label_map ['0', '1']", 2),
        ("sentence\tlabel\nfine\rfilm\t1\n", SST, "bare_cr", "bare CR (carriage return) at column 5: a CR alone "
         "does not end a line; lines end in LF or CRLF", 2),
    ],
)
def test_bad_rows_are_rejected(tmp_path: Path, data: str, options: dict, key: str, reason: str, line: int) -> None:
    rejection = next(r for r in read(tmp_path, data, **options) if isinstance(r, Rejection))
    assert rejection == Rejection(
        source=f"sst2/f.tsv:{line}", split="train", raw=data.split("\n")[line - 1], reason=reason, key=key
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
    assert got[0] == Rejection(source="sst2/f.tsv:2", split="train", raw="na\\xefve\t1",
                               reason="invalid utf-8 byte 0xEF at column 3", key="decode_error")
    assert got[1].tokens == ["good"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"sentenc\xe9\tlabel\na\t1\n", r"f\.tsv: cannot read the header line: invalid utf-8 byte 0xE9 at column 8"),
        (b"sentence\tlabel\rgood\t1\rbad\t0\r", r"f\.tsv: line ends are CR alone \(no LF in the first 28 bytes, "
                                                r"which hold 3 CRs\): convert the file to LF or CRLF line ends"),
        (b"sentence\tla\rbel\ngood\t1\n", r"f\.tsv: cannot read the header line: bare CR \(carriage return\) at "
                                         r"column 12"),
    ],
    ids=["invalid-utf8", "cr-only-line-ends", "bare-cr"],
)
def test_an_unreadable_header_is_an_error_naming_the_file(tmp_path: Path, data: bytes, message: str) -> None:
    """A ReaderError (a ValueError the CLI turns into one error line), not an IndexError or a traceback."""
    with pytest.raises(ReaderError, match=message):
        read(tmp_path, data, **SST)


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        ("text\tlabel", SST, r"f\.tsv: no column named 'sentence' in the header \['text', 'label'\]"),
        ("sentence\tsentence\tlabel", SST, r"more than one column named 'sentence'"),
        ("sentence\tlabel", {"text_column": 0, "label_column": 2}, r"column index 2, but the header has 2 columns"),
        ("a film\t1", SST, r"f\.tsv: the header line \['a film', '1'\] holds none of the configured column names "
                           r"\['sentence', 'label'\]: it looks like data; a file without a header needs header: false"),
    ],
    ids=["missing", "twice", "index-past-the-header", "data-as-header"],
)
def test_columns_the_header_cannot_give_are_errors(tmp_path: Path, header: str, options: dict, message: str) -> None:
    with pytest.raises(ReaderError, match=message):
        read(tmp_path, header + "\na\tb\tc\n", **options)


def test_csv_quoting_keeps_delimiters_and_line_ends_inside_fields(tmp_path: Path) -> None:
    data = 'text,label\n"a, b",1\n"two\nlines",0\n"say ""hi""",1\nplain,0\n'
    got = read(tmp_path, data, delimiter=",", quoting="csv", text_column="text", label_column="label")
    assert [(r.source, r.tokens, r.fields["label"]) for r in got] == [
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
        ({"text_column": 0, "label_column": 0}, r"must differ: \[0, 0\]"),
        ({"text_column": [0, 2], "label_column": 2}, r"must differ: \[0, 2, 2\]"),
        ({"text_column": [], "label_column": 1}, "empty list"),
        ({**SST, "split_column": "set"}, "split_column and split_map go together"),
        ({**SST, "split_column": "set", "split_map": {"TRAIN": "training"}}, r"split_map maps to \['training'\]"),
        ({**SST, "unescape_html": "yes please"}, "unescape_html"),
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


NEWS = {"delimiter": ",", "quoting": "csv", "header": False, "label_column": 0, "text_column": [1, 2],
        "label_map": {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}}


def test_a_text_from_several_columns_joined_by_the_separator(tmp_path: Path) -> None:
    """A news CSV: class index, title, description; the text is the title and the description."""
    data = '"3","Wall St. Bears Claw Back","Short-sellers are seeing green."\n"1","Only a title",""\n'
    got = read(tmp_path, data, **NEWS, text_separator=" | ")
    assert [r.fields for r in got] == [
        {"tokens": ["Wall", "St.", "Bears", "Claw", "Back", "|", "Short-sellers", "are", "seeing", "green."],
         "label": "Business"},
        {"tokens": ["Only", "a", "title"], "label": "World"},  # an empty cell adds no separator
    ]
    (rejection,) = read(tmp_path, '"2","",""\n', **NEWS)
    assert (rejection.key, rejection.reason) == ("empty_field", "empty text field")


@pytest.mark.parametrize(
    ("options", "tokens"),
    [
        ({}, ["Carlyle", "#39;s", "&quot;buy&quot;", "\\$5", "now\\band", "&amp;", "#1;"]),
        ({"unescape_html": True}, ["Carlyle", "'s", '"buy"', "\\$5", "now\\band", "&", "#1;"]),
        ({"unescape_backslashes": True}, ["Carlyle", "#39;s", "&quot;buy&quot;", "$5", "nowband", "&amp;", "#1;"]),
        ({"unescape_html": True, "unescape_backslashes": True},
         ["Carlyle", "'s", '"buy"', "$5", "nowband", "&", "#1;"]),
    ],
    ids=["off", "html", "backslashes", "both"],
)
def test_html_entities_and_backslash_escapes_are_undone_when_asked(
    tmp_path: Path, options: dict, tokens: list[str]
) -> None:
    """Escapes as a public news CSV has them: an entity that lost its "&" ("#39;"), &quot;, a backslash before
    "$" and before a line's next word. "#1;" is a ranking, not the control character U+0001: it stays."""
    data = 'text,label\nCarlyle #39;s &quot;buy&quot; \\$5 now\\band &amp; #1;,1\n'
    (record,) = read(tmp_path, data, delimiter=",", quoting="csv", text_column="text", label_column="label", **options)
    assert record.tokens == tokens


def test_escaped_line_breaks_become_word_breaks(tmp_path: Path) -> None:
    data = 'text\tlabel\nfirst line\\nsecond\\tthird \\"quoted\\" &#39;x&#39;\t1\n'
    (record,) = read(tmp_path, data, text_column="text", label_column="label", unescape_html=True,
                     unescape_backslashes=True)
    assert record.tokens == ["first", "line", "second", "third", '"quoted"', "'x'"]


def test_a_split_column_with_a_map_feeds_several_splits(tmp_path: Path) -> None:
    """SICK's layout: the split is the last column; a value outside the map is refused with split ""."""
    data = ("id\tA\tB\tlabel\tset\r\n"
            "1\ta dog runs\ta dog moves\tENTAILMENT\tTRAIN\r\n"
            "2\ta cat\tno cat\tCONTRADICTION\tTRIAL\r\n"
            "3\ta man\ta man\tNEUTRAL\tDEV\r\n"
            "4\tx\ty\tNEUTRAL\tTEST")  # CRLF, no final line end
    options = {"text_column": "A", "text_b_column": "B", "label_column": "label", "split_column": "set",
               "split_map": {"TRAIN": "train", "TRIAL": "dev", "TEST": "test"}}
    got = read(tmp_path, data, **options)
    assert [(type(r).__name__, r.split, r.source) for r in got] == [
        ("Record", "train", "sst2/f.tsv:2"), ("Record", "dev", "sst2/f.tsv:3"), ("Rejection", "", "sst2/f.tsv:4"),
        ("Record", "test", "sst2/f.tsv:5"),
    ]
    assert got[0].fields == {"tokens": ["a", "dog", "runs"], "tokens_b": ["a", "dog", "moves"], "label": "ENTAILMENT"}
    assert (got[2].key, got[2].reason) == ("unknown_split", "split column value 'DEV' is not in split_map "
                                                            "['TEST', 'TRAIN', 'TRIAL']")
    assert got[0].uid == make_uid("sst2", "train", "f.tsv:2")  # the row's own split, not the file's


def test_numeric_labels_pass_as_written(tmp_path: Path) -> None:
    """A score stays text here: the regression kind parses it (and refuses "n/a" as not_a_number)."""
    got = read(tmp_path, "sentence\tscore\na b\t4.5\nc d\tn/a\n", text_column="sentence", label_column="score")
    assert [r.fields["label"] for r in got] == ["4.5", "n/a"]
