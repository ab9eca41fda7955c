"""A toy corpus built in memory, record by record, as a reader would yield it."""

from __future__ import annotations

import pytest

from mtl.config import TaskConfig, ValidationChecks, ValidationConfig
from mtl.records import Record, Rejection, make_uid, source_of
from mtl.validation import CorpusValidation, validate_corpus

ALL_OFF = ValidationChecks(quarantine_fraction="off", empty_split="off", unseen_label="off", train_test_overlap="off")


class ToyCorpus:
    def __init__(self, name: str = "toy") -> None:
        self.name = name
        self.records: dict[str, list[Record]] = {}
        self.rejections: list[Rejection] = []
        self.lines: dict[str, int] = {}

    def file(self, split: str) -> str:
        return f"{split}.txt"

    def _source(self, split: str) -> str:
        self.lines[split] = self.lines.get(split, 0) + 1
        self.records.setdefault(split, [])
        return source_of(self.name, self.file(split), self.lines[split])

    def tagged(self, split: str, tokens: str | list[str], tags: str | list[str], *, uid: str = "") -> Record:
        """A tagged sentence; "Mars attacks" / "B-LOC O" are split on spaces."""
        tokens = tokens.split() if isinstance(tokens, str) else tokens
        tags = tags.split() if isinstance(tags, str) else tags
        return self._add(split, tokens, tags=tags, uid=uid)

    def text(self, split: str, tokens: str | list[str], label: str | None, *, uid: str = "") -> Record:
        tokens = tokens.split() if isinstance(tokens, str) else tokens
        return self._add(split, tokens, label=label, uid=uid)

    def _add(self, split: str, tokens: list[str], *, tags=(), label=None, uid: str = "") -> Record:
        source = self._source(split)
        record = Record(
            uid=uid or make_uid(self.name, split, source),
            task="toy",
            split=split,
            tokens=tokens,
            tags=list(tags),
            label=label,
            source=source,
            raw=" ".join(tokens),
        )
        self.records[split].append(record)
        return record

    def reject(self, split: str, reason: str = "line 1: invalid utf-8 byte 0xFF at column 1") -> Rejection:
        rejection = Rejection(source=self._source(split), split=split, raw="\\xff", reason=reason)
        self.rejections.append(rejection)
        return rejection

    def validate(
        self, task: TaskConfig, config: ValidationConfig | None = None, *, files: dict[str, str] | None = None
    ) -> CorpusValidation:
        if files is None:
            files = {split: self.file(split) for split in ("train", "dev", "test") if split in self.records}
        # checks default to off here: record-level tests should not trip the batch checks
        return validate_corpus(
            self.name,
            self.records,
            self.rejections,
            files=files,
            task_name="toy",
            task=task,
            config=config or ValidationConfig(checks=ALL_OFF),
        )

    @staticmethod
    def reasons(result: CorpusValidation) -> dict[str, str]:
        """source -> reason of every quarantined unit."""
        return {rejection.source: rejection.reason for rejection in result.quarantined}


@pytest.fixture
def corpus() -> ToyCorpus:
    return ToyCorpus()
