"""The canonical record every reader yields, and the rejection a reader or a check gives instead.

A corpus file is read into a stream of `Record | Rejection`: every unit of input (a sentence, a row, a
line) ends up as exactly one of the two, so records read == accepted + quarantined always holds.

A record's fields are what its format gives, under generic names: `tokens` always; `tokens_b` (a pair's
second text), `tags` (one per token) and `label` (the target as written: a class name, or a number for a
score) where the format has them. The task's kind (mtl/tasks) turns them into its own fields.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


def make_uid(corpus: str, split: str, position: str) -> str:
    """Stable id of a record: a hash of its corpus, split and source position (file:line)."""
    return hashlib.sha1(f"{corpus}\x1f{split}\x1f{position}".encode()).hexdigest()[:16]


@dataclass(slots=True)
class Record:
    uid: str
    task: str
    split: str
    fields: dict[str, Any]  # tokens, and tokens_b / tags / label as the format has them; the kind's after parsing
    source: str = ""  # "corpus/file:line"
    raw: str = ""  # the input text it came from, kept for a quarantine entry; not written to the dataset

    @property
    def tokens(self) -> list[str]:
        return self.fields["tokens"]


@dataclass(slots=True)
class Rejection:
    source: str  # "corpus/file:line"
    split: str  # "" when the unit could not even be assigned a split (a split column it could not read)
    raw: str
    reason: str
    uid: str = ""  # set when the rejected unit had parsed into a record
    key: str = "other"  # a short stable category of the reason ("decode_error", "unknown_label", ...)


def source_of(corpus: str, file_name: str, line: int) -> str:
    return f"{corpus}/{file_name}:{line}"


def file_of(source: str) -> str:
    """The file name of a "corpus/file:line" source."""
    return source.split("/", 1)[-1].rsplit(":", 1)[0]
