"""Delimited rows (TSV/CSV): one example per row, a text (and a pair's second text) and a label, by column.

Columns are chosen by header name or by 0-based index. A text may be built from several columns (a title and
a description), joined by `text_separator`, its empty cells left out. Fields are stripped of surrounding
whitespace: SST-2 has a space before every TAB. With quoting "none" a row is a line split on the delimiter;
with "csv" the csv module reads it, so a quoted field may hold delimiters and line ends (the row's source
is its first line). Blank lines hold no data and are not rows. One file can feed several splits: each row's
split is then read from `split_column` through `split_map` (SICK: SemEval_set TRAIN/TRIAL/TEST).

A header line is not a unit of input: the reader yields it as a `Header` (the report lists it, and validation
warns when it would pass as a record: a file without a header read with `header: true`). A header the
configured columns cannot be found in, or one that cannot be decoded, is a ReaderError naming the file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from mtl.corpora.lines import Header, Line, Problem, ReaderError, ReaderOptions, iter_lines, reject
from mtl.corpora.tokenize import TokenizerName, get_tokenizer
from mtl.corpora.unescape import unescape_backslashes, unescape_html
from mtl.records import Record, Rejection, make_uid, source_of

Row = tuple[int, str, list[str]]  # (first line number, raw text, fields)
Column = str | int  # a header name or a 0-based index
TEXTS = {"text": "tokens", "text_b": "tokens_b"}  # text role -> the record field its tokens go to


class Options(ReaderOptions):
    delimiter: str = "\t"
    header: bool = True
    text_column: Column | list[Column]  # several columns: their cells joined by text_separator
    text_b_column: Column | list[Column] | None = None  # a pair's second text (pair classification, pair regression)
    text_separator: str = " "
    label_column: Column
    split_column: Column | None = None  # the row's split from this column (one file, several splits) ...
    split_map: dict[str, str] = {}  # ... through this map: column value -> train | dev | test
    label_map: dict[str, str] = {}  # source label -> label name (SST-2's 0/1 -> negative/positive); a label
                                    # missing from a non-empty map is quarantined
    columns: int | None = None  # without a header: how many columns a row has (default: up to the last one used)
    quoting: Literal["none", "csv"] = "none"
    unescape_html: bool = False  # &#39; &quot; &amp; (and "#39;" that lost its "&") in the texts
    unescape_backslashes: bool = False  # \\n \\t -> a space, \\" -> ", \\\\ -> \\ in the texts
    tokenizer: TokenizerName = "whitespace"

    @model_validator(mode="after")
    def _check(self) -> Options:
        if not self.delimiter or "\n" in self.delimiter or "\r" in self.delimiter:
            raise ValueError(f"delimiter {self.delimiter!r} must be non-empty and hold no line end")
        if self.quoting == "csv" and len(self.delimiter) != 1:
            raise ValueError(f'quoting "csv" needs a one-character delimiter, not {self.delimiter!r}')
        if isinstance(self.text_column, list) and not self.text_column:
            raise ValueError("text_column is an empty list: name at least one column")
        used = [column for columns in self.roles().values() for column in columns]
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

    def roles(self) -> dict[str, list[Column]]:
        """role (text, text_b, label, split) -> its columns, for the roles configured."""
        roles = {"text": self.text_column, "text_b": self.text_b_column, "label": self.label_column,
                 "split": self.split_column}
        return {role: column if isinstance(column, list) else [column]
                for role, column in roles.items() if column is not None}


def read(
    path: Path,
    options: Options,
    *,
    corpus: str,
    task: str,
    split: str,
    max_line_bytes: int = 1_000_000,
) -> Iterator[Record | Rejection | Header]:
    """split: the file's split; with options.split_column each row's split comes from that column instead
    (a row whose value split_map does not know is quarantined with split "")."""
    file_split = "" if options.split_column is not None else split  # rejections before a row's split is known
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus,
                       split=file_split)
    if options.quoting == "csv":
        rows = _csv_rows(lines, options.delimiter, corpus, path, file_split)
    else:
        rows = _plain_rows(lines, options.delimiter)
    fields_of = _FieldMaker(options)

    if options.header:
        first = next(rows, None)
        if first is None:  # an empty file: nothing to read; validation reports the empty split
            return
        if isinstance(first, Rejection):
            raise ReaderError(f"{path}: cannot read the header line: {first.reason}")
        number, raw, cells = first
        header = [cell.strip() for cell in cells]
        names = [column for columns in options.roles().values() for column in columns if isinstance(column, str)]
        if names and not set(names) & set(header):
            raise ReaderError(f"{path}: the header line {header} holds none of the configured column names "
                              f"{names}: it looks like data; a file without a header needs header: false and "
                              "columns by index")
        at = {role: [_column_index(column, header, path) for column in columns]
              for role, columns in options.roles().items()}
        expected = len(header)
        fields, _, _ = fields_of(cells, at, split)
        yield Header(source_of(corpus, path.name, number), raw, fields)
    else:
        at = {role: [int(column) for column in columns] for role, columns in options.roles().items()}
        expected = options.columns or max(index for indices in at.values() for index in indices) + 1

    for row in rows:
        if row.__class__ is Rejection:
            yield row
            continue
        number, raw, cells = row
        if len(cells) != expected:
            yield reject(corpus, path, number, file_split, raw,
                         Problem("column_count", f"expected {expected} columns, found {len(cells)}"))
            continue
        fields, row_split, problem = fields_of(cells, at, split)
        if problem is not None:
            yield reject(corpus, path, number, row_split, raw, problem)
            continue
        yield Record(
            uid=make_uid(corpus, row_split, f"{path.name}:{number}"),
            task=task,
            split=row_split,
            fields=fields,
            source=source_of(corpus, path.name, number),
            raw=raw,
        )


class _FieldMaker:
    """A row's cells -> (record fields, its split, None), or (None, its split, why the row is refused)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.tokenize = get_tokenizer(options.tokenizer)
        steps: list[Callable[[str], str]] = []
        if options.unescape_html:
            steps.append(unescape_html)
        if options.unescape_backslashes:
            steps.append(unescape_backslashes)
        self.steps = steps

    def __call__(self, cells: list[str], at: dict[str, list[int]], split: str) -> tuple[Any, str, Problem | None]:
        options = self.options
        row_split = split
        if "split" in at:
            value = cells[at["split"][0]].strip()
            row_split = options.split_map.get(value, "")
            if not row_split:
                return None, "", Problem("unknown_split", f"split column value {value!r} is not in split_map "
                                                          f"{sorted(options.split_map)}")
        fields: dict[str, Any] = {}
        for role, field in TEXTS.items():
            if role in at:
                text = options.text_separator.join(cell for i in at[role] if (cell := cells[i].strip()))
                for step in self.steps:
                    text = step(text)
                if not text.strip():
                    return None, row_split, Problem("empty_field", f"empty {role.replace('_', ' ')} field")
                fields[field] = self.tokenize(text)
        label = cells[at["label"][0]].strip()
        if not label:
            return None, row_split, Problem("empty_field", "empty label field")
        if options.label_map:
            if label not in options.label_map:
                return None, row_split, Problem("unknown_label", f"label {label!r} is not in label_map "
                                                                 f"{sorted(options.label_map)}")
            label = options.label_map[label]
        fields["label"] = label
        return fields, row_split, None


def _column_index(column: Column, header: list[str], path: Path) -> int:
    if isinstance(column, int):
        if column >= len(header):
            raise ReaderError(f"{path}: column index {column}, but the header has {len(header)} columns: {header}")
        return column
    if header.count(column) != 1:
        found = "no" if column not in header else "more than one"
        raise ReaderError(f"{path}: {found} column named {column!r} in the header {header}")
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
                # its ASCII survives decoding, so csv still sees where quotes open and close; a bare CR would
                # end csv's line early
                yield text.raw.replace("\r", " ") + "\n"

    def take(self) -> tuple[int, str, Problem | None]:
        """(first line number, raw text, why it cannot be read) of the row just read; then forget it."""
        row = self._start, "\n".join(self._raw), self._problem
        self._raw, self._problem = [], None
        return row
