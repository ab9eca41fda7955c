"""Delimited rows (TSV/CSV): one example per row, a text column and a label column.

Columns are chosen by header name or by 0-based index. Fields are stripped of surrounding whitespace:
SST-2 has a space before every TAB. With quoting "none" a row is a line split on the delimiter; with
"csv" the csv module reads it, so a quoted field may hold delimiters and line ends (the row's source
is its first line). Blank lines hold no data and are not rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from mtl.corpora.lines import Line, ReaderOptions, iter_lines, reject
from mtl.corpora.tokenize import TokenizerName, get_tokenizer
from mtl.records import Record, Rejection, make_uid, source_of

Row = tuple[int, str, list[str]]  # (first line number, raw text, fields)


class Options(ReaderOptions):
    delimiter: str = "\t"
    header: bool = True
    text_column: str | int
    label_column: str | int
    columns: int | None = None  # without a header: how many columns a row has (default: up to the last one used)
    quoting: Literal["none", "csv"] = "none"
    tokenizer: TokenizerName = "whitespace"

    @model_validator(mode="after")
    def _check(self) -> Options:
        if not self.delimiter or "\n" in self.delimiter or "\r" in self.delimiter:
            raise ValueError(f"delimiter {self.delimiter!r} must be non-empty and hold no line end")
        if self.quoting == "csv" and len(self.delimiter) != 1:
            raise ValueError(f'quoting "csv" needs a one-character delimiter, not {self.delimiter!r}')
        if self.text_column == self.label_column:
            raise ValueError(f"text_column and label_column are both {self.text_column!r}")
        for column in (self.text_column, self.label_column):
            if isinstance(column, str) and not self.header:
                raise ValueError(f"column named {column!r} but header: false; name columns by index")
            if isinstance(column, int) and column < 0:
                raise ValueError(f"column index {column} is negative; indices count from 0")
            if isinstance(column, int) and self.columns is not None and column >= self.columns:
                raise ValueError(f"column index {column} but columns: {self.columns}")
        if self.header and self.columns is not None:
            raise ValueError("columns is only for files without a header; the header gives the count")
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
    tokenize = get_tokenizer(options.tokenizer)
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus, split=split)
    if options.quoting == "csv":
        rows = _csv_rows(lines, options.delimiter, corpus, path, split)
    else:
        rows = _plain_rows(lines, options.delimiter)

    if options.header:
        first = next(rows, None)
        if first is None:  # an empty file: nothing to read; validation reports the empty split
            return
        if isinstance(first, Rejection):
            raise ValueError(f"{path}: cannot read the header line: {first.reason}")
        header = [field.strip() for field in first[2]]
        expected = len(header)
        text_at = _column_index(options.text_column, header, path)
        label_at = _column_index(options.label_column, header, path)
    else:
        text_at, label_at = int(options.text_column), int(options.label_column)
        expected = options.columns or max(text_at, label_at) + 1

    for row in rows:
        if row.__class__ is Rejection:
            yield row
            continue
        number, raw, fields = row
        if len(fields) != expected:
            yield reject(corpus, path, number, split, raw, f"expected {expected} columns, found {len(fields)}")
            continue
        text, label = fields[text_at].strip(), fields[label_at].strip()
        if not text or not label:
            yield reject(corpus, path, number, split, raw, f"empty {'text' if not text else 'label'} field")
            continue
        yield Record(
            uid=make_uid(corpus, split, f"{path.name}:{number}"),
            task=task,
            split=split,
            tokens=tokenize(text),
            label=label,
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
            yield reject(corpus, path, number, split, raw, problem or error)
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
        self._problem = ""

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
                    self._problem = where + text.reason
                yield text.raw + "\n"  # its ASCII survives decoding, so csv still sees where quotes open and close

    def take(self) -> tuple[int, str, str]:
        """(first line number, raw text, why it cannot be read or "") of the row just read; then forget it."""
        row = self._start, "\n".join(self._raw), self._problem
        self._raw, self._problem = [], ""
        return row
