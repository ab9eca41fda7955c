"""The canonical record every reader yields, and the rejection a reader or a check gives instead.

A corpus file is read into a stream of `Record | Rejection`: every unit of input (a sentence, a row, a
line) ends up as exactly one of the two, so records read == accepted + quarantined always holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def make_uid(corpus: str, split: str, position: str) -> str:
    """Stable id of a record: a hash of its corpus, split and source position (file:line)."""
    return hashlib.sha1(f"{corpus}\x1f{split}\x1f{position}".encode()).hexdigest()[:16]


@dataclass(slots=True)
class Record:
    uid: str
    task: str
    split: str
    tokens: list[str]
    tags: list[str] = field(default_factory=list)  # tagging kinds; empty otherwise
    label: str | None = None  # classification kinds; None otherwise
    source: str = ""  # "corpus/file:line"
    raw: str = ""  # the input text it came from, kept for a quarantine entry; not written to the dataset


@dataclass(slots=True)
class Rejection:
    source: str  # "corpus/file:line"
    split: str
    raw: str
    reason: str
    uid: str = ""  # set when the rejected unit had parsed into a record


def source_of(corpus: str, file_name: str, line: int) -> str:
    return f"{corpus}/{file_name}:{line}"
