"""Validation of one corpus: the task kind's fields, record-level expectations (a GX suite), batch-level
checks, quarantine.

Streaming (what `mtl ingest` does; stream.py says what happens to each chunk):

    validator = CorpusValidator("trec", files=["train_5500.label", "TREC_10.label"], splits=["train", "test"],
                                task_name="question", task=params.tasks["question"], config=params.validation)
    for chunk in chunks:  # train units first
        outcomes = validator.validate(chunk)  # per unit: the accepted Record or the Rejection
    summary = validator.finish(headers)  # labels, report, issues; if failures(summary): stop the stage

In memory, for lists already read (tests, small corpora): the same validator over the whole lists.

    result = validate_corpus("trec", records, rejections, files=[...], splits=[...], task_name="question",
                             task=params.tasks["question"], config=params.validation)
    write_quarantine(interim / "quarantine.jsonl", result.quarantined)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mtl.config import ValidationConfig
from mtl.corpora.lines import Header
from mtl.records import Record, Rejection
from mtl.tasks.kind import TaskOptions
from mtl.validation.accounting import AccountingError
from mtl.validation.checks import BatchIssue, failures
from mtl.validation.quarantine import quarantine_line, read_quarantine, write_quarantine
from mtl.validation.stream import CorpusValidator, OrderError, ValidationSummary

__all__ = [
    "AccountingError",
    "BatchIssue",
    "CorpusValidation",
    "CorpusValidator",
    "OrderError",
    "ValidationSummary",
    "failures",
    "quarantine_line",
    "read_quarantine",
    "validate_corpus",
    "write_quarantine",
]


@dataclass(slots=True)
class CorpusValidation:
    accepted: dict[str, list[Record]]  # split -> records that passed every expectation, with the kind's fields
    quarantined: list[Rejection]  # in the order validated: per phase (train, then the rest) rejections first
    labels: list[str]  # the label set the records were checked against
    report: dict[str, Any]  # JSON-ready; becomes data/interim/<corpus>/report.json
    issues: list[BatchIssue]  # batch checks that fired (action "fail" or "warn")


def validate_corpus(
    corpus: str,
    records: list[Record],
    rejections: list[Rejection],
    *,
    headers: Sequence[Header] = (),
    files: list[str],
    splits: list[str],
    task_name: str,
    task: TaskOptions,
    config: ValidationConfig,
    chunk_records: int | None = None,
) -> CorpusValidation:
    """Validate one corpus held in memory: the records its readers parsed and the units they `rejections` refused,
    in chunks of `chunk_records` units (None: one chunk), train first as the validator needs them."""
    validator = CorpusValidator(corpus, files=files, splits=splits, task_name=task_name, task=task, config=config)
    units: list[Record | Rejection] = []
    for train in (True, False):
        units += [unit for group in (rejections, records) for unit in group if (unit.split == "train") == train]
    accepted: dict[str, list[Record]] = {split: [] for split in splits}
    quarantined: list[Rejection] = []
    size = chunk_records or max(len(units), 1)
    for start in range(0, len(units), size):
        for outcome in validator.validate(units[start:start + size]):
            if isinstance(outcome, Rejection):
                quarantined.append(outcome)
            else:
                accepted[outcome.split].append(outcome)
    summary = validator.finish(headers)
    return CorpusValidation(accepted=accepted, quarantined=quarantined, labels=summary.labels, report=summary.report,
                            issues=summary.issues)
