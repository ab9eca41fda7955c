"""CoNLL columns (CoNLL-2003, WNUT17): one token per line, a tag in one column, sentences between blank lines.

A line holding only whitespace separates sentences too: WNUT17 train uses lines holding a single TAB.
"-DOCSTART-" lines mark documents wherever they stand: they end the current sentence and are not records.
Tags are normalised to BIO on read (see `to_bio`), so every tagging corpus reaches the model in one scheme.
When both columns count from the start (token 0, tag 1), a line with more columns than they reach is refused,
since a column too many means the line is not what the options say (a space inside a token, a shifted tag),
unless `ignore_extra_columns: true`; an index counting from the end (tag -1) takes lines of any width.
A sentence with any bad line is rejected whole, naming the first bad line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from mtl.corpora.lines import Problem, ReaderOptions, iter_lines, reject
from mtl.records import Record, Rejection, make_uid, source_of

DOCSTART = "-DOCSTART-"
SEPARATORS = {"tab": "\t", "space": " ", "whitespace": None}  # None: str.split's runs of any whitespace


class Options(ReaderOptions):
    token_column: int = 0
    tag_column: int = -1
    separator: Literal["tab", "space", "whitespace"] = "whitespace"
    scheme: Literal["io", "bio", "bioes"] = "bio"
    ignore_extra_columns: bool = False  # read lines wider than the columns reach (both indices from the start)

    @model_validator(mode="after")
    def _distinct_columns(self) -> Options:
        if (self.token_column >= 0) == (self.tag_column >= 0) and self.token_column == self.tag_column:
            raise ValueError(f"token_column and tag_column are both {self.token_column}")
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
    separator = SEPARATORS[options.separator]
    token_at, tag_at = options.token_column, options.tag_column
    # Counting one index from the start and the other from the end, the two meet in lines of exactly
    # |token_at - tag_at| columns (token 0 and tag -1 meet in a one-column line): demand more than that.
    if (token_at >= 0) == (tag_at >= 0):
        needed = max(_columns_needed(token_at), _columns_needed(tag_at))
    else:
        needed = abs(token_at - tag_at) + 1
    # the widest line read: exactly `needed` when both indices count from the start, unless told otherwise
    widest = needed if token_at >= 0 and tag_at >= 0 and not options.ignore_extra_columns else None
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus, split=split)

    start = 0  # line number of the sentence's first line; 0 between sentences
    raw: list[str] = []
    tokens: list[str] = []
    tags: list[str] = []
    problem: Problem | None = None

    for number, text in lines:
        if text.__class__ is not str:  # a Rejection: this line could not be read, so neither can its sentence
            start = start or number
            raw.append(text.raw)
            problem = problem or Problem(text.key, f"line {number}: {text.reason}")
            continue
        if not text or text.isspace() or text.startswith(DOCSTART):
            if start:
                yield _sentence(path, start, raw, tokens, tags, problem, options.scheme, corpus, task, split)
                start, raw, tokens, tags, problem = 0, [], [], [], None
            continue
        start = start or number
        raw.append(text)
        if problem:  # the sentence is lost already; keep its raw text for the quarantine
            continue
        columns = text.split(separator)
        if len(columns) < needed or (widest is not None and len(columns) > widest):
            expected = f"at least {needed}" if widest is None else widest
            hint = " (ignore_extra_columns: true reads such lines)" if len(columns) > needed else ""
            problem = Problem("column_count", f"line {number}: expected {expected} columns, found {len(columns)}{hint}")
            continue
        token, tag = columns[token_at], columns[tag_at].strip()
        if not token or not tag:
            problem = Problem("empty_field", f"line {number}: empty {'token' if not token else 'tag'}")
            continue
        tokens.append(token)
        tags.append(tag)
    if start:  # the file did not end with a blank line
        yield _sentence(path, start, raw, tokens, tags, problem, options.scheme, corpus, task, split)


def _columns_needed(index: int) -> int:
    return index + 1 if index >= 0 else -index


def _sentence(
    path: Path,
    start: int,
    raw: list[str],
    tokens: list[str],
    tags: list[str],
    problem: Problem | None,
    scheme: str,
    corpus: str,
    task: str,
    split: str,
) -> Record | Rejection:
    text = "\n".join(raw)
    if problem:
        return reject(corpus, path, start, split, text, problem)
    return Record(
        uid=make_uid(corpus, split, f"{path.name}:{start}"),
        task=task,
        split=split,
        fields={"tokens": tokens, "tags": to_bio(tags, scheme)},
        source=source_of(corpus, path.name, start),
        raw=text,
    )


def to_bio(tags: list[str], scheme: str = "bio") -> list[str]:
    """Tags in BIO: from BIOES, S-X -> B-X and E-X -> I-X; then, for any scheme, an I-X that does not
    continue an X entity starts one (-> B-X), the repair seqeval applies when it reads chunks.
    IO needs only that repair. Tags of no known shape are kept as they are, for validation to report.
    """
    out: list[str] = []
    entity = ""  # the type of the entity the previous tag belongs to; "" outside one
    for tag in tags:
        prefix, dash, kind = tag.partition("-")
        if not dash or not kind:
            out.append(tag)
            entity = ""
            continue
        if scheme == "bioes" and prefix in ("S", "E"):
            prefix = "B" if prefix == "S" else "I"
        if prefix == "I" and kind != entity:
            prefix = "B"
        if prefix in ("B", "I"):
            out.append(f"{prefix}-{kind}")
            entity = kind
        else:
            out.append(tag)
            entity = ""
    return out
