"""Batch-level checks: properties of a corpus as a whole that no single record shows.

Each check has an action in params.yaml (validation.checks): "fail" stops the ingest stage, "warn"
only reports, "off" does not run the check. A check that finds something gives a BatchIssue whose
message names the corpus, the check and the worst examples, so a person can act on it without
opening the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mtl.config import ValidationConfig
from mtl.records import Record, Rejection, file_of
from mtl.validation.accounting import UNASSIGNED, Accounting, Counts
from mtl.validation.hashes import HashSet64, hashes_of

MAX_EXAMPLES = 5
CHECKS = ("quarantine_fraction", "empty_split", "unseen_label", "train_test_overlap")  # in report order
Finding = tuple[str, list[str]]  # (what was found, examples), before the corpus and check are named


@dataclass(slots=True)
class BatchIssue:
    check: str  # "quarantine_fraction" | "empty_split" | "unseen_label" | "train_test_overlap"
    action: Literal["fail", "warn"]
    message: str
    examples: list[str] = field(default_factory=list)


def failures(result: Any) -> list[BatchIssue]:
    """The issues of a CorpusValidation (or any object with .issues) whose action is "fail"."""
    return [issue for issue in result.issues if issue.action == "fail"]


class BatchChecks:
    """The batch checks' running statistics, fed as validation decides each record, so that a corpus streamed in
    chunks of any size gives the same findings as one read whole. What they keep is compact: counters keyed by
    label, the first few examples, and 64-bit hashes of train texts (hashes.py), never the records.

    Units must come train first (CorpusValidator enforces it): a test text is then compared with every train
    text as it arrives, and a dev/test label with every label of accepted train records."""

    def __init__(self, corpus: str, config: ValidationConfig, *, labels_of: Callable[[Record], list[str]],
                 text_of: Callable[[Record], str]) -> None:
        self.corpus, self.config = corpus, config
        self.labels_of, self.text_of = labels_of, text_of
        self.actions = {check: getattr(config.checks, check) for check in CHECKS}
        self._seq = 0  # the position of a quarantined unit in the quarantine
        self._refused_examples: dict[str, list[tuple[int, str]]] = {}  # file -> its first quarantined units
        self._train_labels: set[str] = set()  # labels of accepted train records
        self._unseen: dict[str, dict[str, list]] = {}  # label -> split -> [records using it, first source]
        self._train_texts = HashSet64()
        self._test = 0  # accepted test records
        self._overlap: list[np.ndarray] = []  # hashes of the test texts found in train
        self._longest: list[tuple[int, int, str, str]] = []  # (-length, seq, source, text) of overlapping texts

    def quarantined(self, rejection: Rejection) -> None:
        self._seq += 1
        examples = self._refused_examples.setdefault(file_of(rejection.source), [])
        if len(examples) < MAX_EXAMPLES:
            examples.append((self._seq, f"{rejection.source} ({_clip(rejection.reason, 80)})"))

    def parsed(self, records: list[Record]) -> None:
        """Records the task's kind parsed, accepted or not, in order: their dev/test labels unseen in train."""
        if self.actions["unseen_label"] == "off":
            return
        for record in records:
            if record.split == "train":
                continue
            for label in set(self.labels_of(record)) - self._train_labels:
                entry = self._unseen.setdefault(label, {}).setdefault(record.split, [0, record.source])
                entry[0] += 1

    def accepted(self, records: list[Record]) -> None:
        """Accepted records, in order, train before the others."""
        train = [record for record in records if record.split == "train"]
        for record in train:
            self._train_labels.update(self.labels_of(record))
        if self.actions["train_test_overlap"] == "off":
            return
        if train:
            self._train_texts.add(hashes_of(self.text_of(record) for record in train))
        test = [record for record in records if record.split == "test"]
        if not test:
            return
        texts = [self.text_of(record) for record in test]
        hashes = hashes_of(texts)
        found = self._train_texts.contains(hashes)
        self._overlap.append(hashes[found])
        for at in np.flatnonzero(found):
            self._longest.append((-len(texts[at]), self._test + int(at), test[at].source, texts[at]))
        if len(self._longest) > 10 * MAX_EXAMPLES:
            self._longest = sorted(self._longest)[:MAX_EXAMPLES]
        self._test += len(test)

    def issues(self, accounting: Accounting, splits: list[str]) -> list[BatchIssue]:
        """Run every check whose action is not "off"; return the issues found, in check order."""
        checks: dict[str, Callable[[], Finding | None]] = {
            "quarantine_fraction": lambda: self._quarantine_fraction(accounting.files),
            "empty_split": lambda: empty_split(accounting.splits),
            "unseen_label": lambda: self._unseen_label(splits),
            "train_test_overlap": self._train_test_overlap,
        }
        issues: list[BatchIssue] = []
        for check, run in checks.items():
            action = self.actions[check]
            if action == "off":
                continue
            finding = run()
            if finding is not None:
                issues.append(issue(self.corpus, check, action, finding))
        return issues

    def _quarantine_fraction(self, files: dict[str, Counts]) -> Finding | None:
        limit = self.config.max_quarantine_fraction
        over = {file: count for file, count in files.items() if count.quarantined_fraction > limit}
        if not over:
            return None
        parts = []
        for file, count in sorted(over.items(), key=lambda item: -item[1].quarantined_fraction):
            top = ", ".join(f"{key} {n}" for key, n in count.by_reason.most_common(3))
            parts.append(
                f"{file} quarantined {count.quarantined} of {count.read} "
                f"({count.quarantined_fraction:.2%} > {limit:.2%}; {top})"
            )
        first = sorted(example for file in over for example in self._refused_examples.get(file, []))
        return "; ".join(parts), [text for _, text in first[:MAX_EXAMPLES]]

    def _unseen_label(self, splits: list[str]) -> Finding | None:
        """Labels of dev/test records (accepted or not) that no accepted train record has.

        Refused dev/test records count too: with a learned label set, a dev label absent from train makes
        its records fail the label expectation, and this check is what names the label plainly."""
        if not self._unseen:
            return None
        order = {split: i for i, split in enumerate(splits)}
        worst = []
        for label, by_split in self._unseen.items():
            count = sum(n for n, _ in by_split.values())
            first = by_split[min(by_split, key=lambda split: order.get(split, len(order)))][1]
            worst.append((-count, label, first))
        examples = [f"{label!r} in {-count} record(s), first {first}" for count, label, first in sorted(worst)]
        return f"{len(self._unseen)} dev/test label(s) never seen in train", examples[:MAX_EXAMPLES]

    def _train_test_overlap(self) -> Finding | None:
        """Test records whose text (tokens joined by spaces; a pair's two texts together) is exactly a train
        record's: a pair leaks only when the pair repeats, not when one of its sentences does."""
        overlap = np.concatenate(self._overlap) if self._overlap else np.empty(0, dtype=np.uint64)
        if not len(self._train_texts) or not self._test or not len(overlap):
            return None
        # the longest shared texts first: those are leaked examples, while "Mike" or "..." recur by chance
        longest = sorted(self._longest)[:MAX_EXAMPLES]
        examples = [f"{source} {_clip(text, 60)!r}" for _, _, source, text in longest]
        return (f"{len(overlap)} of {self._test} test texts also in train ({len(np.unique(overlap))} distinct)",
                examples)


def issue(corpus: str, check: str, action: Literal["fail", "warn"], finding: Finding) -> BatchIssue:
    """The issue of a finding, its message naming the corpus and the check. Messages quote records' text, so
    anything UTF-8 cannot encode (a lone surrogate in a label) is written as its escape: a report, a log line
    or a Prefect artifact must never fail to print it."""
    summary, examples = finding
    examples = [printable(example) for example in examples]
    message = printable(f"{corpus}: {check}: {summary}")
    if examples:
        message += ", e.g. " + "; ".join(examples)
    return BatchIssue(check=check, action=action, message=message, examples=examples)


def printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def empty_split(splits: dict[str, Counts]) -> Finding | None:
    empty = [
        f"{split} (read {count.read}, quarantined {count.quarantined})"
        for split, count in splits.items()
        if count.accepted == 0 and split != UNASSIGNED
    ]
    if not empty:
        return None
    return f"{len(empty)} split(s) with no accepted records: " + ", ".join(empty), []


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
