"""Validation of one corpus: the task kind's fields, record-level expectations (a GX suite), batch-level
checks, quarantine.

    result = validate_corpus("trec", records, rejections, files=["train_5500.label", "TREC_10.label"],
                             splits=["train", "test"], task_name="question", task=params.tasks["question"],
                             config=params.validation)
    write_quarantine(interim / "quarantine.jsonl", result.quarantined)
    if failures(result): ...  # stop the stage with the issues' messages

Steps, in order:
  1. fields: the task's kind turns each record's generic fields into its own (tasks/<kind>.py `parse`);
     a record that does not fit is quarantined with the kind's reason;
  2. the label set: the task's configured labels, else every label the train records use;
  3. one GX suite over a frame of all the corpus's records: the kind-independent expectations on each of
     the kind's texts (suite.common_checks) and the kind's own (`checks`); a record failing any expectation
     is quarantined with the reason of every one it failed;
  4. accounting per file and split: read == accepted + quarantined, or AccountingError;
  5. batch checks (checks.py) and warnings (suspicious.py: learned labels that look like mistakes, header
     lines that look like data), then the report (report.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mtl.config import ValidationConfig
from mtl.corpora.lines import Header
from mtl.records import Record, Rejection
from mtl.tasks import kind_of
from mtl.tasks.kind import FieldError, TaskOptions
from mtl.validation.accounting import AccountingError, count_units
from mtl.validation.checks import BatchIssue, batch_checks, failures
from mtl.validation.content import has_bad_characters
from mtl.validation.quarantine import read_quarantine, write_quarantine
from mtl.validation.report import build_report
from mtl.validation.suite import common_checks, record_frame, run_suite
from mtl.validation.suspicious import header_looks_like_data, suspicious_labels

__all__ = [
    "AccountingError",
    "BatchIssue",
    "CorpusValidation",
    "failures",
    "read_quarantine",
    "validate_corpus",
    "write_quarantine",
]


@dataclass(slots=True)
class CorpusValidation:
    accepted: dict[str, list[Record]]  # split -> records that passed every expectation, with the kind's fields
    quarantined: list[Rejection]  # the readers' rejections, then validation's
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
) -> CorpusValidation:
    """Validate one corpus: the records its readers parsed and the units they `rejections` refused.

    files: the corpus's file names, splits: the splits it must have. A record or rejection of a file or split
    not among them is an error, since it could not be accounted for. headers: the header lines the readers read
    (not units of input: they go to the report, and are checked for looking like data)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is first imported (in suite.py)
    stray = {unit.split for unit in [*records, *rejections] if unit.split} - set(splits)
    if stray:
        raise AccountingError(f"{corpus}: records or rejections for split(s) {sorted(stray)} not among {splits}")
    kind = kind_of(task)

    parsed, refused = [], []
    for record in records:
        try:
            fields = kind.parse(record.fields, task)
        except FieldError as error:
            refused.append(Rejection(record.source, record.split, record.raw, str(error), record.uid, error.key))
            continue
        parsed.append(Record(record.uid, record.task, record.split, fields, record.source, record.raw))

    train = [record for record in parsed if record.split == "train"]
    labels = list(task.labels) if task.labels else learn_labels(train, kind.labels_of)
    frame = record_frame(parsed, kind, task, labels)
    suite = run_suite(f"{corpus}.{task_name}", frame, common_checks(config, kind.text_fields(task))
                      + kind.checks(labels, task))

    accepted: list[Record] = []
    for position, record in enumerate(parsed):  # row i of the frame is parsed[i] (record_frame)
        failed = suite.reasons.get(position)
        if failed:
            reason = "; ".join(text for _, text in failed)
            refused.append(Rejection(record.source, record.split, record.raw, reason, record.uid, failed[0][0]))
        else:
            accepted.append(record)
    quarantined = list(rejections) + refused

    accounting = count_units(files, splits, records, rejections, accepted, quarantined)  # raises unless all add up
    texts = kind.text_fields(task)
    def labels_of(record: Record) -> list[str]:
        return kind.labels_of(record.fields)

    issues = batch_checks(
        corpus,
        accounting=accounting,
        records=by_split(parsed, splits),
        accepted=by_split(accepted, splits),
        quarantined=quarantined,
        labels_of=labels_of,
        text_of=lambda record: " ||| ".join(" ".join(record.fields[text]) for text in texts),
        config=config,
    )
    warnings = [header_looks_like_data(corpus, headers, kind, task, labels)]
    if not task.labels:  # a configured label set is strict already: a label outside it is quarantined
        warnings.append(suspicious_labels(corpus, train, labels_of, labels))
    issues += [warning for warning in warnings if warning is not None]
    report = build_report(
        corpus,
        task_name=task_name,
        kind=task.kind,
        labels=labels,
        labels_learned=not task.labels,
        accounting=accounting,
        headers=headers,
        suite=suite,
        issues=issues,
        config=config,
    )
    return CorpusValidation(accepted=by_split(accepted, splits), quarantined=quarantined, labels=labels,
                            report=report, issues=issues)


def by_split(records: list[Record], splits: list[str]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = {split: [] for split in splits}
    for record in records:
        grouped[record.split].append(record)
    return grouped


def learn_labels(train: list[Record], labels_of: Any) -> list[str]:
    """Every label the train records use, sorted so the set (and its vocabulary order) is stable; but none
    holding a character no string may hold (content.py): its records are quarantined, and so is the label."""
    labels = {label for record in train for label in labels_of(record.fields)}
    return sorted(label for label in labels if not has_bad_characters(label))
