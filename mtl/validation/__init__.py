"""Validation of one corpus: record-level expectations (a GX suite), batch-level checks, quarantine.

    result = validate_corpus("trec", records, rejections, files={"train": "train_5500.label", ...},
                             task_name="question", task=params.tasks["question"], config=params.validation)
    write_quarantine(interim / "quarantine.jsonl", result.quarantined)
    if failures(result): ...  # stop the stage with the issues' messages

Steps, in order:
  1. the label set: the task's configured labels, else every label the train records use;
  2. one GX suite over a frame of all the corpus's records: the kind-independent expectations
     (suite.common_checks) and the task kind's own (`expectations` in mtl/tasks/<kind>.py);
     a record failing any expectation is quarantined with the reason of every one it failed;
  3. accounting per file: read == accepted + quarantined, or AccountingError;
  4. batch checks (checks.py), then the report (report.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mtl.config import TaskConfig, ValidationConfig
from mtl.records import Record, Rejection
from mtl.validation.checks import BatchIssue, batch_checks, failures
from mtl.validation.quarantine import read_quarantine, reason_category, write_quarantine
from mtl.validation.report import AccountingError, build_report, count_splits
from mtl.validation.suite import common_checks, record_frame, run_suite

__all__ = [
    "AccountingError",
    "BatchIssue",
    "CorpusValidation",
    "failures",
    "read_quarantine",
    "reason_category",
    "validate_corpus",
    "write_quarantine",
]


@dataclass(slots=True)
class CorpusValidation:
    accepted: dict[str, list[Record]]  # split -> records that passed every expectation
    quarantined: list[Rejection]  # the readers' rejections, then validation's
    labels: list[str]  # the label set the records were checked against
    report: dict[str, Any]  # JSON-ready; becomes data/interim/<corpus>/report.json
    issues: list[BatchIssue]  # batch checks that fired (action "fail" or "warn")


def validate_corpus(
    corpus: str,
    records: dict[str, list[Record]],
    rejections: list[Rejection],
    *,
    files: dict[str, str],
    task_name: str,
    task: TaskConfig,
    config: ValidationConfig,
) -> CorpusValidation:
    """Validate one corpus: `records` (split -> parsed records) and the readers' `rejections`.

    `files` (split -> file name) names the corpus's configured splits; records or rejections of any
    other split are an error, since they could not be accounted to a file.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is first imported (in suite.py)
    from mtl.tasks import get_kind  # here: the task kinds' model sections may import torch

    stray = (set(records) | {rejection.split for rejection in rejections}) - set(files)
    if stray:
        raise AccountingError(f"{corpus}: records or rejections for split(s) {sorted(stray)} with no file")
    kind = get_kind(task.kind)
    splits = {split: records.get(split, []) for split in files}

    labels = list(task.labels) if task.labels else learn_labels(splits.get("train", []), kind.labels_of)
    frame = record_frame(splits, kind, labels)
    suite = run_suite(f"{corpus}.{task_name}", frame, common_checks(config) + kind.expectations(labels, config))

    # row i of the frame is the i-th record of the splits taken in order (record_frame)
    accepted: dict[str, list[Record]] = {split: [] for split in splits}
    refused: list[Rejection] = []
    position = 0
    for split, split_records in splits.items():
        for record in split_records:
            reasons = suite.reasons.get(position)
            if reasons:
                refused.append(Rejection(record.source, split, record.raw, "; ".join(reasons), record.uid))
            else:
                accepted[split].append(record)
            position += 1
    quarantined = list(rejections) + refused

    counts = count_splits(files, splits, rejections, accepted, quarantined)  # raises unless all add up
    issues = batch_checks(
        corpus,
        counts=counts,
        records=splits,
        accepted=accepted,
        quarantined=quarantined,
        labels_of=kind.labels_of,
        config=config,
    )
    report = build_report(
        corpus,
        task_name=task_name,
        kind=task.kind,
        labels=labels,
        labels_learned=not task.labels,
        counts=counts,
        suite=suite,
        issues=issues,
        config=config,
    )
    return CorpusValidation(accepted=accepted, quarantined=quarantined, labels=labels, report=report, issues=issues)


def learn_labels(train: list[Record], labels_of: Any) -> list[str]:
    """Every label the train records use, sorted so the set (and its vocabulary order) is stable."""
    return sorted({label for record in train for label in labels_of(record)})
