"""The unified dataset as training reads it: per task, sentences, gold answers and encoded examples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from mtl.config import TaskConfig
from mtl.model.batch import Example
from mtl.model.vocab import Vocab
from mtl.tasks import get_kind

COLUMNS = ["task", "tokens", "tags", "label"]


@dataclass
class TaskData:
    name: str
    kind: str
    labels: list[str]
    rows: list[dict] = field(repr=False)  # {"tokens", "tags", "label"} per example
    examples: list[Example] = field(default_factory=list, repr=False)  # filled by encode()

    @property
    def sentences(self) -> list[list[str]]:
        return [row["tokens"] for row in self.rows]

    @property
    def gold(self) -> list:
        kind = get_kind(self.kind)
        return [kind.target(row) for row in self.rows]

    def encode(self, vocab: Vocab) -> None:
        """Word/char ids and target ids of every row, once, before training."""
        kind = get_kind(self.kind)
        label_ids = {label: i for i, label in enumerate(self.labels)}
        self.examples = [Example(*vocab.encode(row["tokens"]), kind.target_ids(row, label_ids)) for row in self.rows]


def read_labels(data_dir: Path) -> dict[str, dict]:
    return json.loads((data_dir / "labels.json").read_text(encoding="utf-8"))


def read_split(
    data_dir: Path, split: str, tasks: dict[str, TaskConfig], labels: dict[str, dict]
) -> dict[str, TaskData]:
    """{task: TaskData} of one split, for the configured tasks (in their params order)."""
    table = pq.read_table(data_dir / f"{split}.parquet", columns=COLUMNS)
    columns = {name: table.column(name).to_pylist() for name in COLUMNS}
    by_task: dict[str, list[dict]] = {name: [] for name in tasks}
    for task, tokens, tags, label in zip(*(columns[name] for name in COLUMNS)):
        if task in by_task:
            by_task[task].append({"tokens": tokens, "tags": tags or [], "label": label})
    out = {}
    for name, cfg in tasks.items():
        if name not in labels:
            raise ValueError(f"task {name!r} is configured but {data_dir / 'labels.json'} has no labels for it")
        if not by_task[name]:
            raise ValueError(f"task {name!r} has no {split} examples in {data_dir}")
        out[name] = TaskData(name, cfg.kind, list(labels[name]["labels"]), by_task[name])
    return out
