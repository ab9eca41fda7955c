"""CorpusValidator: one corpus validated chunk by chunk as its readers stream it, in memory bounded by the chunk.

    validator = CorpusValidator("trec", files=[...], splits=["train", "test"], task_name="question",
                                task=params.tasks["question"], config=params.validation)
    for chunk in chunks:                       # lists of Record | Rejection, train units first
        for outcome in validator.validate(chunk):   # one per unit, in order: an accepted Record or a Rejection
            ...                                # write it out
    summary = validator.finish(headers)        # labels, report, batch issues

Per chunk, in order:
  1. fields: the task's kind turns each record's generic fields into its own (tasks/<kind>.py `parse`);
     a record that does not fit is quarantined with the kind's reason;
  2. the label set: the task's configured labels, else every label the train records use (learned as train
     streams by; a train record's own label is always among the labels learned so far, and dev/test come after
     the whole of train, so every record is checked against the same set an unchunked run would use);
  3. one GX suite over a frame of the chunk's records: the kind-independent expectations on each of the kind's
     texts (suite.common_checks) and the kind's own (`checks`); a record failing any expectation is quarantined
     with the reason of every one it failed; a uid an earlier record had is one of them (the earlier record
     stays accepted: it was written before the later one was read);
  4. counts per file and split (accounting.Tally) and the batch checks' running statistics (checks.BatchChecks).
At the end: read == accepted + quarantined per file and split, or AccountingError; the batch checks and the
warnings (suspicious.py), then the report (report.py). Nothing there depends on where the chunks were cut.
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
from mtl.validation.accounting import AccountingError, Tally
from mtl.validation.checks import BatchChecks, BatchIssue
from mtl.validation.content import has_bad_characters
from mtl.validation.hashes import HashSet64, hashes_of
from mtl.validation.report import build_report
from mtl.validation.suite import SuiteResult, SuiteTotals, common_checks, record_frame, run_suite
from mtl.validation.suspicious import LabelTally, header_looks_like_data, suspicious_labels


class OrderError(ValueError):
    """A train record came after dev/test records: labels are learned from train and test is compared with it."""


@dataclass(slots=True)
class ValidationSummary:
    labels: list[str]  # the label set the records were checked against
    report: dict[str, Any]  # JSON-ready; becomes data/interim/<corpus>/report.json
    issues: list[BatchIssue]  # batch checks that fired (action "fail" or "warn")


class CorpusValidator:
    def __init__(self, corpus: str, *, files: list[str], splits: list[str], task_name: str, task: TaskOptions,
                 config: ValidationConfig) -> None:
        """files: the corpus's file names, splits: the splits it must have. A unit of a file or split not among
        them is an error, since it could not be accounted for."""
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is first imported (in suite.py)
        self.corpus, self.splits, self.task_name, self.task, self.config = corpus, splits, task_name, task, config
        self.kind = kind_of(task)
        self.texts = self.kind.text_fields(task)
        self._learned: set[str] = set()  # labels of parsed train records (none with a character no string may hold)
        self._past_train = False  # a dev/test record came: train is complete
        self._uids = HashSet64()
        self._tally = Tally(files, splits)
        self._suite = SuiteTotals(f"{corpus}.{task_name}")
        self._train_labels = LabelTally()
        self._checks = BatchChecks(corpus, config, labels_of=self.labels_of, text_of=self.text_of)

    def labels_of(self, record: Record) -> list[str]:
        return self.kind.labels_of(record.fields)

    def text_of(self, record: Record) -> str:
        """A record's text(s) as one string, for the train/test overlap."""
        return " ||| ".join(" ".join(record.fields[text]) for text in self.texts)

    @property
    def labels(self) -> list[str]:
        """The configured label set, else the labels learned from train so far, sorted so the set (and its
        vocabulary order) is stable."""
        return list(self.task.labels) if self.task.labels else sorted(self._learned)

    def validate(self, units: Sequence[Record | Rejection]) -> list[Record | Rejection]:
        """One chunk: per unit, in order, the accepted Record (with the kind's fields) or the Rejection."""
        outcomes: list[Record | Rejection] = list(units)
        parsed: list[tuple[int, Record]] = []  # (position in the chunk, record)
        for position, unit in enumerate(units):
            if unit.split and unit.split not in self.splits:
                raise AccountingError(f"{self.corpus}: {unit.source}: records or rejections for split(s) "
                                      f"{[unit.split]} not among {self.splits}")
            self._tally.read(unit)
            if isinstance(unit, Rejection):
                continue
            if unit.split != "train":
                self._past_train = True
            elif self._past_train:
                raise OrderError(f"{unit.source}: a train record after dev/test records; train must come first")
            try:
                fields = self.kind.parse(unit.fields, self.task)
            except FieldError as error:
                outcomes[position] = Rejection(unit.source, unit.split, unit.raw, str(error), unit.uid, error.key)
                continue
            record = Record(unit.uid, unit.task, unit.split, fields, unit.source, unit.raw)
            outcomes[position] = record
            parsed.append((position, record))
        if parsed:
            self._check(parsed, outcomes)

        accepted = []
        for outcome in outcomes:
            if isinstance(outcome, Rejection):
                self._tally.quarantined(outcome)
                self._checks.quarantined(outcome)
            else:
                self._tally.accepted(outcome)
                accepted.append(outcome)
        self._checks.accepted(accepted)  # train's accepted labels and texts before dev/test are compared with them
        self._checks.parsed([record for _, record in parsed])
        return outcomes

    def _check(self, parsed: list[tuple[int, Record]], outcomes: list[Record | Rejection]) -> None:
        records = [record for _, record in parsed]
        for record in records:
            if record.split == "train":
                labels = self.labels_of(record)
                self._train_labels.add(record, labels)
                # a label holding a character no string may hold is not learned: its records are quarantined
                self._learned.update(label for label in labels if not has_bad_characters(label))
        duplicate = self._uids.add(hashes_of(record.uid for record in records)).tolist()
        result = self._run(record_frame(records, self.kind, self.task, self.labels, duplicate))
        for row, (position, record) in enumerate(parsed):  # row i of the frame is records[i] (record_frame)
            failed = result.reasons.get(row)
            if failed:
                reason = "; ".join(text for _, text in failed)
                outcomes[position] = Rejection(record.source, record.split, record.raw, reason, record.uid,
                                               failed[0][0])

    def _run(self, frame: Any) -> SuiteResult:
        checks = common_checks(self.config, self.texts) + self.kind.checks(self.labels, self.task)
        result = run_suite(self._suite.name, frame, checks)
        self._suite.add(result)
        return result

    def finish(self, headers: Sequence[Header] = ()) -> ValidationSummary:
        """The corpus's verdict once every chunk is validated. headers: the header lines the readers read (not
        units of input: they go to the report, and are checked for looking like data)."""
        if not self._suite.expectations:  # no record reached GX: the report still lists every expectation
            self._run(record_frame([], self.kind, self.task, self.labels))
        accounting = self._tally.close()  # raises unless every file and split adds up
        labels = self.labels
        issues = self._checks.issues(accounting, self.splits)
        warnings = [header_looks_like_data(self.corpus, headers, self.kind, self.task, labels)]
        if not self.task.labels:  # a configured label set is strict already: a label outside it is quarantined
            warnings.append(suspicious_labels(self.corpus, self._train_labels, labels))
        issues += [warning for warning in warnings if warning is not None]
        suite = SuiteResult(self._suite.name, self._suite.success, self._suite.expectations)
        report = build_report(self.corpus, task_name=self.task_name, kind=self.task.kind, labels=labels,
                              labels_learned=not self.task.labels, accounting=accounting, headers=headers,
                              suite=suite, issues=issues, config=self.config)
        return ValidationSummary(labels=labels, report=report, issues=issues)
