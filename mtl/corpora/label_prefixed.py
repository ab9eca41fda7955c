"""Label-prefixed lines (TREC question classification): `COARSE:fine question tokens`, one per line.

The label is everything before the first whitespace. "coarse" granularity keeps the part before ":",
"fine" keeps the whole `COARSE:fine`. A label without ":" is rejected at either granularity, so the
records of a file do not depend on the granularity chosen. Blank lines hold no data and are not records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from mtl.corpora.lines import Problem, ReaderOptions, iter_lines, reject
from mtl.corpora.tokenize import TokenizerName, get_tokenizer
from mtl.records import Record, Rejection, make_uid, source_of


class Options(ReaderOptions):
    granularity: Literal["coarse", "fine"] = "coarse"
    tokenizer: TokenizerName = "whitespace"


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
    coarse = options.granularity == "coarse"
    lines = iter_lines(path, encoding=options.encoding, max_line_bytes=max_line_bytes, corpus=corpus, split=split)
    for number, text in lines:
        if text.__class__ is not str:
            yield text
            continue
        if not text or text.isspace():
            continue
        label, *rest = text.split(None, 1)
        question = rest[0].strip() if rest else ""
        major, colon, minor = label.partition(":")
        if not colon or not major or not minor:
            yield reject(corpus, path, number, split, text,
                         Problem("bad_label", f"label {label!r} is not of the form COARSE:fine"))
        elif not question:
            yield reject(corpus, path, number, split, text,
                         Problem("empty_field", f"no question after the label {label!r}"))
        else:
            yield Record(
                uid=make_uid(corpus, split, f"{path.name}:{number}"),
                task=task,
                split=split,
                fields={"tokens": tokenize(question), "label": major if coarse else label},
                source=source_of(corpus, path.name, number),
                raw=text,
            )
