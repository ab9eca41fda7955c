"""Delimited rows (TSV/CSV): one example per row, a text column (and a pair's second text) and a label column.

Columns are chosen by header name or by 0-based index. Fields are stripped of surrounding whitespace:
SST-2 has a space before every TAB. With quoting "none" a row is a line split on the delimiter; with
"csv" the csv module reads it, so a quoted field may hold delimiters and line ends (the row's source
is its first line). Blank lines hold no data and are not rows. One file can feed several splits: each row's
split is then read from `split_column` through `split_map` (SICK: SemEval_set TRAIN/TRIAL/TEST).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from mtl.corpora.lines import Line, Problem, ReaderOptions, iter_lines, reject
from mtl.corpora.tokenize import TokenizerName, get_tokenizer
from mtl.records import Record, Rejection, make_uid, source_of

Row = tuple[int, str, list[str]]  # (first line number, raw text, fields)


class Options(ReaderOptions):
    delimiter: str = "\t"
    header: bool = True
    text_column: str | int
    text_b_column: str | int | None = None  # a pair's second text (pair classification, pair regression)
    label_column: str | int
    split_column: str | int | None = None  # the row's split from this column (one file, several splits) ...
    split_map: dict[str, str] = {}  # ... through this map: column value -> train | dev | test
    label_map: dict[str, str] = {}  # source label -> label name (SST-2's 0/1 -> negative/positive); a label
                                    # missing from a non-empty map is quarantined
    columns: int | None = None  # without a header: how many columns a row has (default: up to the last one used)
    quoting: Literal["none", "csv"] = "none"
    tokenizer: TokenizerName = "whitespace"

    @model_validator(mode="after")
    def _check(self) -> Options:
        if not self.delimiter or "\n" in self.delimiter or "\r" in self.delimiter:
            raise ValueError(f"delimiter {self.delimiter!r} must be non-empty and hold no line end")
        if self.quoting == "csv" and len(self.delimiter) != 1:
            raise ValueError(f'quoting "csv" needs a one-character delimiter, not {self.delimiter!r}')
        used = [c for c in (self.text_column, self.text_b_column, self.label_column, self.split_column) if c is not None]
        if len(set(used)) != len(used):
            raise ValueError(f"text_column, text_b_column, label_column and split_column must differ: {used}")
        for column in used:
            if isinstance(column, str) and not self.header:
                raise ValueError(f"column named {column!r} but header: false; name columns by index")
            if isinstance(column, int) and column < 0:
                raise ValueError(f"column index {column} is negative; indices count from 0")
            if isinstance(column, int) and self.columns is not None and column >= self.columns:
                raise ValueError(f"column index {column} but columns: {self.columns}")
        if self.header and self.columns is not None:
            raise ValueError("columns is only for files without a header; the header gives the count")
        if (self.split_column is None) != (not self.split_map):
            raise ValueError("split_column and split_map go together: the column, and its values' splits")
        unknown = sorted(set(self.split_map.values()) - {"train", "dev", "test"})
        if unknown:
            raise ValueError(f"split_map maps to {unknown}: splits are train, dev and test")
        return self


def read(
    path: Path,
    options: Options,
    *,
    corpus: str,
    task: str,
    split: str,
    max_line_bytes: int = 1_000_000,
) -> Iterator[Record | Rejection]:
    """split: the file's split; with options.split_column each row's split comes from that column instead
    (a row whose value split_map does not know is quarantined with split "")."""
    tokenize = get_tokenizer(options.tokenizer)
    file_split = "" if options.split_column is not None else split  # rejections before a row's split is known
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus,
                       split=file_split)
    if options.quoting == "csv":
        rows = _csv_rows(lines, options.delimiter, corpus, path, file_split)
    else:
        rows = _plain_rows(lines, options.delimiter)

    named = {"text": options.text_column, "text_b": options.text_b_column, "label": options.label_column,
             "split": options.split_column}
    named = {role: column for role, column in named.items() if column is not None}
    if options.header:
        first = next(rows, None)
        if first is None:  # an empty file: nothing to read; validation reports the empty split
            return
        if isinstance(first, Rejection):
            raise ValueError(f"{path}: cannot read the header line: {first.reason}")
        header = [field.strip() for field in first[2]]
        expected = len(header)
        at = {role: _column_index(column, header, path) for role, column in named.items()}
    else:
        at = {role: int(column) for role, column in named.items()}
        expected = options.columns or max(at.values()) + 1

    for row in rows:
        if row.__class__ is Rejection:
            yield row
            continue
        number, raw, cells = row
        row_split = split
        if "split" in at and len(cells) == expected:
            row_split = options.split_map.get(cells[at["split"]].strip(), "")
        if len(cells) != expected:
            problem = Problem("column_count", f"expected {expected} columns, found {len(cells)}")
        elif not row_split:
            value = cells[at["split"]].strip()
            problem = Problem("unknown_split", f"split column value {value!r} is not in split_map "
                                               f"{sorted(options.split_map)}")
        else:
            problem = None
        values = {role: cells[index].strip() for role, index in at.items()} if problem is None else {}
        empty = [role for role in ("text", "text_b", "label") if role in values and not values[role]]
        if problem is None and empty:
            problem = Problem("empty_field", f"empty {empty[0].replace('_', ' ')} field")
        if problem is None and options.label_map:
            if values["label"] not in options.label_map:
                problem = Problem("unknown_label", f"label {values['label']!r} is not in label_map "
                                                   f"{sorted(options.label_map)}")
            else:
                values["label"] = options.label_map[values["label"]]
        if problem is not None:
            yield reject(corpus, path, number, row_split if problem.key != "column_count" else file_split,
                         raw, problem)
            continue
        fields = {"tokens": tokenize(values["text"]), "label": values["label"]}
        if "text_b" in values:
            fields["tokens_b"] = tokenize(values["text_b"])
        yield Record(
            uid=make_uid(corpus, row_split, f"{path.name}:{number}"),
            task=task,
            split=row_split,
            fields=fields,
            source=source_of(corpus, path.name, number),
            raw=raw,
        )


def _column_index(column: str | int, header: list[str], path: Path) -> int:
    if isinstance(column, int):
        if column >= len(header):
            raise ValueError(f"{path}: column index {column}, but the header has {len(header)} columns: {header}")
        return column
    if header.count(column) != 1:
        found = "no" if column not in header else "more than one"
        raise ValueError(f"{path}: {found} column named {column!r} in the header {header}")
    return header.index(column)


def _plain_rows(lines: Iterable[Line], delimiter: str) -> Iterator[Row | Rejection]:
    for number, text in lines:
        if text.__class__ is not str:
            yield text
        elif text and not text.isspace():
            yield number, text, text.split(delimiter)


def _csv_rows(lines: Iterable[Line], delimiter: str, corpus: str, path: Path, split: str) -> Iterator[Row | Rejection]:
    feed = _Feed(lines)
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    while True:
        try:
            fields = next(reader)
            error = ""
        except StopIteration:
            return
        except csv.Error as exception:  # the reader starts afresh on the next line
            fields, error = [], f"malformed CSV: {exception}"
        number, raw, problem = feed.take()
        if problem or error:
            yield reject(corpus, path, number, split, raw, problem or Problem("malformed_csv", error))
        elif raw and not raw.isspace():
            yield number, raw, fields


class _Feed:
    """Hands csv.reader one line at a time and keeps the lines of the row it is reading.

    csv.reader pulls lines only until its row is complete, so after each row `take()` returns exactly
    that row's lines. A line that could not be read reaches csv as its raw text with the bad bytes
    escaped, and its row is rejected.
    """

    def __init__(self, lines: Iterable[Line]) -> None:
        self._lines = lines
        self._start = 0
        self._raw: list[str] = []
        self._problem: Problem | None = None

    def __iter__(self) -> Iterator[str]:
        for number, text in self._lines:
            if not self._raw:
                self._start = number
            if text.__class__ is str:
                self._raw.append(text)
                yield text + "\n"
            else:
                self._raw.append(text.raw)
                if not self._problem:
                    where = "" if number == self._start else f"line {number}: "
                    self._problem = Problem(text.key, where + text.reason)
                yield text.raw + "\n"  # its ASCII survives decoding, so csv still sees where quotes open and close

    def take(self) -> tuple[int, str, Problem | None]:
        """(first line number, raw text, why it cannot be read) of the row just read; then forget it."""
        row = self._start, "\n".join(self._raw), self._problem
        self._raw, self._problem = [], None
        return row
