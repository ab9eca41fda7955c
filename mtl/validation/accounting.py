"""Accounting: for every file and split of a corpus, units read == accepted + quarantined, or an error.

A file may feed several splits (a split column), and a split may come from several files, so the counts are
kept per (file, split) cell and summed per file and per split.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mtl.errors import MtlError
from mtl.records import Record, Rejection, file_of


class AccountingError(MtlError, RuntimeError):
    """Records read != records accepted + records quarantined for some file: data would be lost."""


UNASSIGNED = "unassigned"  # the split of units refused before their split was known (an unreadable split column)


@dataclass(slots=True)
class Counts:
    read: int = 0  # records the reader parsed + units it rejected
    accepted: int = 0
    quarantined: int = 0  # the reader's rejections + the records validation refused
    by_reason: Counter[str] = field(default_factory=Counter)  # quarantine key -> count

    @property
    def quarantined_fraction(self) -> float:
        return self.quarantined / self.read if self.read else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "accepted": self.accepted, "quarantined": self.quarantined,
                "quarantined_fraction": round(self.quarantined_fraction, 6),
                "quarantined_by_reason": dict(self.by_reason.most_common())}


@dataclass(slots=True)
class Accounting:
    """Counts per file, per split, and per (file, split): each of them adds up (read == accepted + quarantined)."""

    files: dict[str, Counts]
    splits: dict[str, Counts]
    cells: dict[tuple[str, str], Counts]  # (file, split)


class Tally:
    """The counts of one corpus as its units stream through validation, closed into an Accounting at the end.

    `read` counts the readers' output, `accepted` and `quarantined` validation's: the two agree only if
    validation neither lost nor duplicated a unit, which `close` checks per (file, split) cell."""

    def __init__(self, files: list[str], splits: list[str]) -> None:
        self.files, self.splits = files, splits
        self.cells: dict[tuple[str, str], Counts] = {}

    def _cell(self, source: str, split: str) -> Counts:
        key = (file_of(source), split or UNASSIGNED)
        counts = self.cells.get(key)  # called twice per unit: a new Counts only for a new cell
        if counts is None:
            if key[0] not in self.files:
                raise AccountingError(f"{source}: file {key[0]!r} is not one of the corpus's files {self.files}")
            counts = self.cells[key] = Counts()
        return counts

    def read(self, unit: Record | Rejection) -> None:
        self._cell(unit.source, unit.split).read += 1

    def accepted(self, record: Record) -> None:
        self._cell(record.source, record.split).accepted += 1

    def quarantined(self, rejection: Rejection) -> None:
        counts = self._cell(rejection.source, rejection.split)
        counts.quarantined += 1
        counts.by_reason[rejection.key] += 1

    def close(self) -> Accounting:
        """Counts per file and split; AccountingError unless read == accepted + quarantined in every cell."""
        by_file = {file: Counts() for file in self.files}
        by_split = {split: Counts() for split in self.splits}
        for (file, split), counts in self.cells.items():
            if counts.read != counts.accepted + counts.quarantined:
                raise AccountingError(f"{file} ({split}): read {counts.read} != accepted {counts.accepted} + "
                                      f"quarantined {counts.quarantined}")
            for total in (by_file[file], by_split.setdefault(split, Counts())):
                total.read += counts.read
                total.accepted += counts.accepted
                total.quarantined += counts.quarantined
                total.by_reason.update(counts.by_reason)
        return Accounting(by_file, by_split, dict(self.cells))
