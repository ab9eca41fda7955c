"""Warnings about what looks wrong but may be right, so they never refuse a record or fail the stage.

- suspicious_label: with a label set learned from train (none configured), a label that occurs once, or that
  differs from a label at least ten times as frequent by one edit ("DESCC" beside "DESC") or only by
  invisible characters ("\u200bDESC", "DE\u00adSC"), is probably a typo or a broken byte that became a class. A
  configured label set needs no such guess: a label outside it is quarantined.
- header_looks_like_data: a header line that would pass as a record (its cells parse as the task's fields and
  its label is a known label) is probably the first row of a file that has no header, read with `header: true`.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

from mtl.corpora.lines import Header
from mtl.records import Record, file_of
from mtl.tasks.kind import FieldError, TaskKind, TaskOptions
from mtl.validation.checks import MAX_EXAMPLES, BatchIssue, issue

WARNINGS = ("header_looks_like_data", "suspicious_label")  # the checks here, always at "warn"
FREQUENT = 10  # a label this many times as frequent as a look-alike is the one the look-alike was meant to be
INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn"})  # controls, format characters, spaces, unassigned


class LabelTally:
    """How often each label occurs in the train records a label set is learned from, and its first record's
    source: all that suspicious_labels needs, kept as the records stream by."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}  # label -> source of its first record

    def add(self, record: Record, labels: list[str]) -> None:
        for label in labels:
            self.counts[label] += 1
            self.first.setdefault(label, record.source)


def suspicious_labels(corpus: str, tally: LabelTally, labels: list[str]) -> BatchIssue | None:
    """tally: the train records `labels` were learned from."""
    learned = set(labels)
    counts = Counter({label: n for label, n in tally.counts.items() if label in learned})
    first = tally.first
    found = []
    for label, count in sorted(counts.items(), key=lambda item: (item[1], item[0])):
        why = [f"occurs once ({first[label]})"] if count == 1 else []
        for other, other_count in counts.most_common():
            if other_count < FREQUENT * count:
                break
            if _visible(other) == _visible(label):
                why.append(f"differs from {other!r} ({other_count}) only by invisible characters")
            elif _one_edit_apart(label, other):
                why.append(f"is one edit from {other!r} ({other_count})")
        if why:
            found.append(f"{label!r}: " + ", ".join(why))
    if not found:
        return None
    return issue(corpus, "suspicious_label", "warn",
                 (f"{len(found)} learned label(s) look like mistakes (labels are learned from train: "
                  "configure tasks.<task>.labels to refuse them)", found[:MAX_EXAMPLES]))


def header_looks_like_data(
    corpus: str, headers: Sequence[Header], kind: TaskKind, task: TaskOptions, labels: list[str]
) -> BatchIssue | None:
    found = []
    for header in headers:
        if header.fields is None:
            continue
        try:
            fields = kind.parse(header.fields, task)
        except FieldError:
            continue
        its_labels = kind.labels_of(fields)
        if set(its_labels) <= set(labels):
            why = f"label {', '.join(map(repr, its_labels))} is a known label" if its_labels else "cells parse"
            line = header.source.rsplit(":", 1)[1]
            found.append(f"{file_of(header.source)} line {line} {header.raw[:80]!r} reads as a record (its {why})")
    if not found:
        return None
    return issue(corpus, "header_looks_like_data", "warn",
                 (f"{len(found)} header line(s) look like data: a file without a header loses its first row to "
                  "header: true (set header: false and columns by index)", found[:MAX_EXAMPLES]))


def _visible(label: str) -> str:
    return "".join(character for character in label if unicodedata.category(character) not in INVISIBLE)


def _one_edit_apart(a: str, b: str) -> bool:
    """One substitution, insertion or deletion turns a into b."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)):] == b[i + 1:]

