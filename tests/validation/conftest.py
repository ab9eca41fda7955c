"""A toy corpus built in memory, record by record, as a reader would yield it; and task options as params give them."""

from __future__ import annotations

from typing import Any

import pytest

from mtl.config import ValidationChecks, ValidationConfig
from mtl.corpora.lines import Header
from mtl.records import Record, Rejection, make_uid, source_of
from mtl.tasks import get_kind
from mtl.tasks.kind import TaskOptions
from mtl.validation import CorpusValidation, validate_corpus

ALL_OFF = ValidationChecks(quarantine_fraction="off", empty_split="off", unseen_label="off", train_test_overlap="off")


def task(**values: Any) -> TaskOptions:
    """A task's options as params.yaml's tasks.<name> would give them: task(kind="tagging", labels=[...])."""
    return get_kind(values["kind"]).Options.model_validate(values)


class ToyCorpus:
    def __init__(self, name: str = "toy") -> None:
        self.name = name
        self.records: list[Record] = []
        self.rejections: list[Rejection] = []
        self.headers: list[Header] = []
        self.lines: dict[str, int] = {}

    def file(self, split: str) -> str:
        return f"{split}.txt"

    def _source(self, split: str) -> str:
        self.lines[split] = self.lines.get(split, 0) + 1
        return source_of(self.name, self.file(split), self.lines[split])

    def tagged(self, split: str, tokens: str | list[str], tags: str | list[str], *, uid: str = "") -> Record:
        """A tagged sentence; "Mars attacks" / "B-LOC O" are split on spaces."""
        tokens = tokens.split() if isinstance(tokens, str) else tokens
        tags = tags.split() if isinstance(tags, str) else tags
        return self.add(split, {"tokens": tokens, "tags": list(tags)}, uid=uid)

    def text(self, split: str, tokens: str | list[str], label: str | None, *, uid: str = "") -> Record:
        tokens = tokens.split() if isinstance(tokens, str) else tokens
        return self.add(split, {"tokens": tokens, "label": label}, uid=uid)

    def add(self, split: str, fields: dict[str, Any], *, uid: str = "") -> Record:
        """A record with the reader's generic fields as given."""
        source = self._source(split)
        record = Record(uid=uid or make_uid(self.name, split, source), task="toy", split=split, fields=fields,
                        source=source, raw=" ".join(fields["tokens"]))
        self.records.append(record)
        return record

    def reject(self, split: str, reason: str = "line 1: invalid utf-8 byte 0xFF at column 1",
               key: str = "decode_error") -> Rejection:
        rejection = Rejection(source=self._source(split), split=split, raw="\\xff", reason=reason, key=key)
        self.rejections.append(rejection)
        return rejection

    def validate(
        self, options: TaskOptions, config: ValidationConfig | None = None, *, splits: list[str] | None = None,
        chunk_records: int | None = None,
    ) -> CorpusValidation:
        used = {unit.split for unit in [*self.records, *self.rejections]}
        if splits is None:
            splits = [split for split in ("train", "dev", "test") if split in used]
        files = sorted({self.file(split) for split in (*splits, *used)})
        # checks default to off here: record-level tests should not trip the batch checks
        return validate_corpus(
            self.name,
            self.records,
            self.rejections,
            headers=self.headers,
            files=files,
            splits=splits,
            task_name="toy",
            task=options,
            config=config or ValidationConfig(checks=ALL_OFF),
            chunk_records=chunk_records,
        )

    @staticmethod
    def reasons(result: CorpusValidation) -> dict[str, str]:
        """source -> reason of every quarantined unit."""
        return {rejection.source: rejection.reason for rejection in result.quarantined}

    @staticmethod
    def keys(result: CorpusValidation) -> dict[str, str]:
        """source -> key of every quarantined unit."""
        return {rejection.source: rejection.key for rejection in result.quarantined}


@pytest.fixture
def corpus() -> ToyCorpus:
    return ToyCorpus()
