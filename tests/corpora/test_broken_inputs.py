"""The bad-input suite: every committed fixture under tests/fixtures/broken/<format>/ read by its reader and
validated, as `mtl ingest` does, with its exact outcome unit by unit (accepted, or quarantined with its key and
reason at its line) or its exact error; read == accepted + quarantined for every file read, and the units read
equal the units counted straight from the bytes, so nothing is lost unseen.

Each format's files are validated together, as one corpus (one GX run per format), then checked file by file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from mtl.config import ValidationConfig
from mtl.corpora import conll, conllu, delimited, jsonl, label_prefixed
from mtl.corpora.lines import Header, ReaderError
from mtl.ingest import record_schema, write_records
from mtl.records import Record, Rejection, file_of
from mtl.tasks import get_kind
from mtl.tasks.kind import TaskOptions
from mtl.validation import CorpusValidation, read_quarantine, validate_corpus, write_quarantine
from tests.validation.conftest import task

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken"
MAX_LINE_BYTES = 10_000  # the long_line fixtures hold one line past it
OK = "accepted"
UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()
WNUT = ["O", "B-person", "I-person", "B-location", "I-location", "B-corporation", "I-corporation", "B-product",
        "I-product", "B-creative-work", "I-creative-work", "B-group", "I-group"]
BARE_CR = "bare CR (carriage return) at column {}: a CR alone does not end a line; lines end in LF or CRLF"
BOM_BYTES = "byte order mark (EF BB BF) at column {}: it belongs only at the start of a file (files joined together?)"
CR_ONLY = (r": line ends are CR alone \(no LF in the first \d+ bytes, which hold \d+ CRs\): convert the file to LF "
           "or CRLF")


@dataclass(frozen=True)
class Format:
    reader: ModuleType
    options: dict
    task: TaskOptions
    files: dict[str, list[tuple]]  # file -> its units in order: (line, OK) or (line, key, reason)
    errors: dict[str, str]  # file -> the ReaderError's message (a regex, after the file's path)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # check -> its examples
    file_options: dict[str, dict] = field(default_factory=dict)  # file -> options of its own


FORMATS = {
    "conllu": Format(
        conllu, {}, task(kind="tagging", labels=UPOS),
        files={
            "truncated.conllu": [(1, OK), (8, "column_count", "line 11: expected 10 tab-separated columns, found 7")],
            "invalid_utf8.conllu": [(1, "decode_error", "line 3: invalid utf-8 byte 0xE9 at column 6"), (5, OK)],
            "bare_cr.conllu": [(1, "bare_cr", "line 3: " + BARE_CR.format(29)), (5, OK)],
            "bom_token.conllu": [(1, "byte_order_mark", "line 1: " + BOM_BYTES.format(8)), (3, OK)],
            "nul_token.conllu": [(1, "control_character", "control character U+0000 in tokens[1] 'c\\x00t'"),
                                 (4, OK)],
            "overlapping_range.conllu": [(1, "bad_range", "line 3: range 2-3 overlaps the range 1-2 (line 1)"),
                                         (7, OK)],
            "range_past_end.conllu": [(1, OK), (3, "bad_range", "line 4: range 2-3 runs past the sentence's last "
                                                                "word, 2")],
            "comment_after_tokens.conllu": [(1, "misplaced_comment", "line 2: comment line after the first token "
                                                                     "line"), (5, OK)],
            "word_id_gap.conllu": [(1, "bad_word_id", "line 2: word id 3 out of sequence, expected 2"), (4, OK)],
            "no_words.conllu": [(1, "empty", "sentence has no words"), (4, OK)],
            "unknown_tag.conllu": [(1, "unknown_label", "tag outside the label set: ALIEN"), (3, OK)],
            "long_line.conllu": [(1, OK), (3, "line_too_long", "line 3: line of 20219 bytes exceeds "
                                                               "max_line_bytes=10000"), (6, OK)],
        },
        errors={"cr_only.conllu": CR_ONLY},
    ),
    "conll": Format(
        conll, {"separator": "tab", "token_column": 0, "tag_column": 1},
        task(kind="tagging", scheme="bio", labels=WNUT),
        files={
            "wrong_columns.conll": [(1, OK), (5, "column_count", "line 6: expected 2 columns, found 1"), (8, OK)],
            "extra_column.conll": [(1, OK), (3, "column_count", "line 3: expected 2 columns, found 3 "
                                                                "(ignore_extra_columns: true reads such lines)"),
                                   (6, OK)],
            "crlf.conll": [(1, OK), (4, OK)],
            "bare_cr.conll": [(1, "bare_cr", "line 1: " + BARE_CR.format(17)), (4, OK)],
            "invalid_utf8.conll": [(1, "decode_error", "line 1: invalid utf-8 byte 0xE9 at column 4"), (4, OK)],
            "alien_tag.conll": [(1, "unknown_label", "tag outside the label set: B-alien")],
            "short_tags.conll": [(1, "unknown_label", "tag outside the label set: I-"), (4, OK)],
            "empty_tag.conll": [(1, "empty_field", "line 1: empty tag"), (4, OK)],
            "nul_token.conll": [(1, "control_character", "control character U+0000 in tokens[0] 'Par\\x00is'"),
                                (3, OK)],
            "bom_token.conll": [(1, "byte_order_mark", "line 2: " + BOM_BYTES.format(6)), (4, OK)],
            "long_line.conll": [(1, OK), (3, "line_too_long", "line 3: line of 10102 bytes exceeds "
                                                              "max_line_bytes=10000"), (6, OK)],
        },
        errors={"cr_only.conll": CR_ONLY},
    ),
    "delimited": Format(
        delimited,
        {"text_column": "sentence", "label_column": "label", "label_map": {"0": "negative", "1": "positive"}},
        task(kind="classification", labels=["negative", "positive"]),
        files={
            "wrong_columns.tsv": [(2, OK), (3, "column_count", "expected 2 columns, found 3"), (4, OK)],
            "bom.tsv": [(2, OK)],
            "header_only.tsv": [],
            "bare_cr.tsv": [(2, "bare_cr", BARE_CR.format(7)), (3, OK)],
            "no_header.tsv": [(2, OK)],  # its first row was taken for a header: a warning says so
            "unknown_label.tsv": [(2, "unknown_label", "label '7' is not in label_map ['0', '1']"), (3, OK)],
            "nul_text.tsv": [(2, "control_character", "control character U+0000 in tokens[1] 'fi\\x00lm'"), (3, OK)],
            "empty_text.tsv": [(2, "empty_field", "empty text field"), (3, OK)],
            "malformed.csv": [(2, "malformed_csv", "malformed CSV: ',' expected after '\"'"), (3, OK),
                              (4, "malformed_csv", "malformed CSV: unexpected end of data")],
            "unknown_split.tsv": [(2, OK), (3, "unknown_split", "split column value 'DEV' is not in split_map "
                                                                "['TEST', 'TRAIN']"), (4, OK)],
            "long_line.tsv": [(2, "line_too_long", "line of 10502 bytes exceeds max_line_bytes=10000"), (3, OK)],
        },
        errors={
            "missing_column.tsv": r": no column named 'label' in the header \['sentence', 'labl'\]",
            "invalid_utf8_header.tsv": r": cannot read the header line: invalid utf-8 byte 0xE9 at column 8",
            "cr_only.tsv": CR_ONLY,
            "data_as_header.tsv": r": the header line \['a fine film', '1'\] holds none of the configured column "
                                  r"names \['sentence', 'label'\]: it looks like data; a file without a header needs "
                                  r"header: false and columns by index",
        },
        warnings={"header_looks_like_data": ["no_header.tsv line 1 'a fine film\\t1' reads as a record (its label "
                                             "'positive' is a known label)"]},
        file_options={"no_header.tsv": {"text_column": 0, "label_column": 1},
                      "malformed.csv": {"delimiter": ",", "quoting": "csv"},
                      "unknown_split.tsv": {"split_column": "set", "split_map": {"TRAIN": "train", "TEST": "test"}}},
    ),
    "label_prefixed": Format(
        label_prefixed, {}, task(kind="classification"),
        files={
            "invalid_utf8.label": [(1, OK), (2, "decode_error", "invalid utf-8 byte 0xF0 at column 60"), (3, OK)],
            "bare_cr.label": [*[(line, OK) for line in range(1, 9)], (9, "bare_cr", BARE_CR.format(21)),
                              *[(line, OK) for line in range(10, 20)]],
            "bom_inside.label": [(1, OK), (2, "byte_order_mark", BOM_BYTES.format(1)), (3, OK)],
            "typo.label": [(line, OK) for line in range(1, 14)],  # learned, and warned about
            "soft_hyphen.label": [(line, OK) for line in range(1, 14)],  # likewise
            "nul.label": [(1, "control_character", "control character U+0000 in tokens[1] 'many\\x00'"), (2, OK)],
            "no_question.label": [(1, "empty_field", "no question after the label 'NUM:dist'"), (2, OK)],
            "bad_label.label": [(1, "bad_label", "label 'NUMdist' is not of the form COARSE:fine"), (2, OK)],
            "blank_lines.label": [(3, OK), (6, OK)],
            "long_line.label": [(1, "line_too_long", "line of 10410 bytes exceeds max_line_bytes=10000"), (2, OK)],
        },
        errors={"joined_by_cr.label": CR_ONLY},
        warnings={"suspicious_label": [
            "'ENTYY': occurs once (broken/typo.label:13), is one edit from 'ENTY' (12)",
            "'LO\\xadC': occurs once (broken/soft_hyphen.label:13), differs from 'LOC' (15) only by invisible "
            "characters",
        ]},
    ),
    "jsonl": Format(
        jsonl, {}, task(kind="classification", labels=["pos", "neg"]),
        files={
            "invalid.jsonl": [
                (1, "missing_label", "no label: a classification task needs one"),  # a tagging line
                (2, "bad_json", "invalid JSON: Expecting ',' delimiter at column 17"),
                (3, "bad_json", "expected a JSON object, found an array"),
                (4, "missing_label", "no label: a classification task needs one"),
                (5, "missing_label", "no label: a classification task needs one"),
                (6, "unknown_label", "label outside the label set: 1"),
                (7, "bad_json", "field 'text' must be a string, found a number"),
                (9, "bad_json", "invalid JSON: Expecting ',' delimiter at column 33"),
            ],
            "deep.jsonl": [(1, OK), (2, "bad_json", "JSON nested deeper than 100 arrays or objects"),
                           (3, "bad_json", "JSON nested deeper than 100 arrays or objects")],
            "surrogate.jsonl": [(1, OK), (2, "lone_surrogate", "lone surrogate U+D800 in tokens[1] '\\ud800': not "
                                                               "encodable as UTF-8"),
                                (3, "lone_surrogate", "lone surrogate U+DFFF in label 'neg\\udfff': not encodable as "
                                                      "UTF-8; label outside the label set: neg\\udfff")],
            "nul.jsonl": [(1, OK), (2, "control_character", "control character U+0000 in tokens[0] 'a\\x00b'")],
            "bom_escape.jsonl": [(1, OK), (2, "byte_order_mark", "byte order mark (U+FEFF) U+FEFF in tokens[0] "
                                                                 "'\\ufeffa'")],
            "bare_cr.jsonl": [(1, "bare_cr", BARE_CR.format(31)), (2, OK)],
            "invalid_utf8.jsonl": [(1, "decode_error", "invalid utf-8 byte 0xE9 at column 14"), (2, OK)],
            "long_line.jsonl": [(1, "line_too_long", "line of 10528 bytes exceeds max_line_bytes=10000"), (2, OK)],
            "unknown_label.jsonl": [(1, OK), (2, "unknown_label", "label outside the label set: meh"),
                                    (3, "unknown_label", "label outside the label set: 0")],
        },
        errors={"cr_only.jsonl": CR_ONLY},
    ),
}
CASES = [(name, file) for name, spec in FORMATS.items() for file in spec.files]
ERRORS = [(name, file) for name, spec in FORMATS.items() for file in spec.errors]


def read(name: str, file: str) -> list[Record | Rejection | Header]:
    spec = FORMATS[name]
    options = spec.reader.Options(**{**spec.options, **spec.file_options.get(file, {})})
    return list(spec.reader.read(BROKEN / name / file, options, corpus="broken", task="t", split="train",
                                 max_line_bytes=MAX_LINE_BYTES))


@pytest.fixture(scope="module")
def validated() -> dict[str, CorpusValidation]:
    """format -> the validation of all its readable fixtures as one corpus (what `mtl ingest` does per corpus),
    made when a test first asks for it."""
    return Validated()


class Validated(dict):
    def __missing__(self, name: str) -> CorpusValidation:
        spec = FORMATS[name]
        sorted_items: dict[type, list] = {Record: [], Rejection: [], Header: []}
        for file in spec.files:
            for item in read(name, file):
                sorted_items[type(item)].append(item)
        self[name] = validate_corpus(
            "broken", sorted_items[Record], sorted_items[Rejection], headers=sorted_items[Header],
            files=list(spec.files), splits=["train", "test"] if name == "delimited" else ["train"], task_name="t",
            task=spec.task, config=ValidationConfig(max_line_bytes=MAX_LINE_BYTES))
        return self[name]


def outcome(result: CorpusValidation, file: str) -> list[tuple]:
    units = [(_line(record.source), OK) for records in result.accepted.values() for record in records
             if file_of(record.source) == file]
    units += [(_line(rejection.source), rejection.key, rejection.reason) for rejection in result.quarantined
              if file_of(rejection.source) == file]
    return sorted(units)


def _line(source: str) -> int:
    return int(source.rsplit(":", 1)[1])


def units_in_bytes(path: Path, name: str, header: bool) -> int:
    """The units a file holds, counted without the readers: blocks of lines (CoNLL, CoNLL-U), or the lines that
    are not blank; a line is what ends in LF (CRLF being one), so a CR alone joins the lines around it."""
    lines = path.read_bytes().split(b"\n")
    blank = [not line.strip() for line in lines]
    if name in ("conllu", "conll"):
        return sum(1 for i, is_blank in enumerate(blank) if not is_blank and (i == 0 or blank[i - 1]))
    return blank.count(False) - (1 if header and blank.count(False) else 0)


@pytest.mark.parametrize(("name", "file"), CASES, ids=[f"{name}-{file}" for name, file in CASES])
def test_each_unit_has_its_exact_outcome_and_every_unit_is_counted(validated, name: str, file: str) -> None:
    result = validated[name]
    assert outcome(result, file) == FORMATS[name].files[file]
    counts = result.report["files"][file]
    assert counts["read"] == counts["accepted"] + counts["quarantined"] == len(FORMATS[name].files[file])
    header = name == "delimited"  # every delimited fixture is read with header: true
    assert counts["read"] == units_in_bytes(BROKEN / name / file, name, header)


@pytest.mark.parametrize(("name", "file"), ERRORS, ids=[f"{name}-{file}" for name, file in ERRORS])
def test_a_file_that_cannot_be_read_is_one_error_naming_it(name: str, file: str) -> None:
    """A ReaderError (a ValueError): `mtl ingest` prints it as one error line, never a traceback."""
    path = BROKEN / name / file
    with pytest.raises(ReaderError, match="^" + str(path).replace(".", r"\.") + FORMATS[name].errors[file]):
        read(name, file)


@pytest.mark.parametrize("name", FORMATS)
def test_warnings_name_the_file_and_line(validated, name: str) -> None:
    issues = {issue.check: issue for issue in validated[name].issues if issue.action == "warn"}
    assert {check: issue.examples for check, issue in issues.items()} == FORMATS[name].warnings


def test_a_header_line_is_accounted_for_in_the_report(validated) -> None:
    files = validated["delimited"].report["files"]
    assert files["no_header.tsv"]["header"] == {"line": 1, "text": "a fine film\t1"}
    assert files["header_only.tsv"]["header"] == {"line": 1, "text": "sentence\tlabel"}
    assert files["header_only.tsv"]["read"] == 0


@pytest.mark.parametrize("name", FORMATS)
def test_what_was_accepted_writes_to_parquet_and_what_was_refused_to_the_quarantine(validated, name, tmp_path) -> None:
    result, spec = validated[name], FORMATS[name]
    write_records(tmp_path / "records.parquet", result.accepted, record_schema(get_kind(spec.task.kind), spec.task))
    assert write_quarantine(tmp_path / "quarantine.jsonl", result.quarantined) == len(result.quarantined)
    assert read_quarantine(tmp_path / "quarantine.jsonl") == result.quarantined
    json.dumps(result.report, ensure_ascii=False).encode("utf-8")  # the report, as ingest writes it


def test_every_format_has_ten_classes_or_more() -> None:
    assert {name: len(spec.files) + len(spec.errors) >= 10 for name, spec in FORMATS.items()} == dict.fromkeys(
        FORMATS, True)


def test_fixtures_are_byte_exact() -> None:
    """The fixtures must keep their CR bytes, BOMs and bad bytes (see .gitattributes: -text)."""
    assert (BROKEN / "conll" / "crlf.conll").read_bytes().count(b"\r\n") == 4
    assert (BROKEN / "delimited" / "bom.tsv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\xf0" in (BROKEN / "label_prefixed" / "invalid_utf8.label").read_bytes()
    assert (BROKEN / "label_prefixed" / "joined_by_cr.label").read_bytes().count(b"\r") == 20
    assert b"\n" not in (BROKEN / "label_prefixed" / "joined_by_cr.label").read_bytes()
    assert (BROKEN / "empty.txt").stat().st_size == 0


def test_crlf_reads_like_lf(tmp_path: Path) -> None:
    lf = tmp_path / "crlf.conll"
    lf.write_bytes((BROKEN / "conll" / "crlf.conll").read_bytes().replace(b"\r\n", b"\n"))
    spec = FORMATS["conll"]
    lf_items = list(conll.read(lf, conll.Options(**spec.options), corpus="broken", task="t", split="train"))
    assert read("conll", "crlf.conll") == lf_items
    assert "\r" not in lf_items[0].raw


def test_an_extra_column_is_read_when_ignore_extra_columns_says_so() -> None:
    path = BROKEN / "conll" / "extra_column.conll"
    options = conll.Options(**FORMATS["conll"].options, ignore_extra_columns=True)
    items = list(conll.read(path, options, corpus="broken", task="t", split="train"))
    assert [item.fields["tokens"] for item in items] == [["Paris"], ["New York", "is"], ["hi"]]


@pytest.mark.parametrize(
    ("reader", "options"),
    [(conllu, {}), (conll, {}), (delimited, {"text_column": "s", "label_column": "l"}),
     (delimited, {"header": False, "text_column": 0, "label_column": 1}), (label_prefixed, {}), (jsonl, {})],
    ids=["conllu", "conll", "tsv", "tsv-no-header", "label_prefixed", "jsonl"],
)
def test_an_empty_file_yields_nothing(reader: ModuleType, options: dict) -> None:
    path = BROKEN / "empty.txt"
    assert list(reader.read(path, reader.Options(**options), corpus="broken", task="t", split="train")) == []
