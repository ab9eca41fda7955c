"""The unified dataset as training reads it: per task, its rows (the kind's fields), gold answers and encoded
examples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mtl.model.batch import Example
from mtl.model.vocab import Vocab
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions


@dataclass
class TaskData:
    name: str
    options: TaskOptions  # the task's params (its kind and the kind's options)
    labels: list[str]
    rows: list[dict[str, Any]] = field(repr=False)  # the kind's fields per example
    examples: list[Example] = field(default_factory=list, repr=False)  # filled by encode()

    @property
    def kind(self) -> str:
        return self.options.kind

    @cached_property
    def options_dict(self) -> dict[str, Any]:
        """The options as the kind's loss and decoding read them from a batch (built once, not per step)."""
        return self.options.model_dump()

    @property
    def inputs(self) -> list[tuple[list[str], ...]]:
        """Each example's texts: (tokens,), or (tokens, tokens_b) for a pair."""
        texts = kind_of(self.options).text_fields(self.options)
        return [tuple(row[text] for text in texts) for row in self.rows]

    @property
    def gold(self) -> list:
        kind = kind_of(self.options)
        return [kind.target(row) for row in self.rows]

    def encode(self, vocab: Vocab) -> None:
        """Word/char ids of every text and the target ids of every row, once, before training."""
        kind = kind_of(self.options)
        label_ids = {label: i for i, label in enumerate(self.labels)}
        self.examples = [Example(vocab.encode_texts(list(texts)), kind.target_ids(row, label_ids))
                         for texts, row in zip(self.inputs, self.rows)]

    def lengths(self) -> list[int]:
        """Tokens per example, all its texts together: what a token-budget batch counts."""
        return [sum(map(len, texts)) for texts in self.inputs]


def read_labels(path: Path) -> dict[str, dict]:
    """The unified dataset's label file (paths.labels): {task: {kind, labels, options}}."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_split(data_dir: Path, split: str, tasks: dict[str, TaskOptions], labels: dict[str, dict]
               ) -> dict[str, TaskData]:
    """{task: TaskData} of one split, for the configured tasks (in their params order)."""
    table = pq.read_table(data_dir / f"{split}.parquet")
    out = {}
    task_column = table.column("task").to_pylist()
    for name, options in tasks.items():
        if name not in labels:
            raise ValueError(f"task {name!r} is configured but the dataset's labels have none for it: rebuild "
                             "the dataset (`mtl unify`)")
        fields = list(kind_of(options).fields(options))
        missing = [f for f in fields if f not in table.column_names]
        if missing:
            raise ValueError(f"{data_dir / f'{split}.parquet'} has no column {missing} for task {name!r}: "
                             "rebuild the dataset (`mtl unify`)")
        rows_at = [i for i, task in enumerate(task_column) if task == name]
        if not rows_at:
            raise ValueError(f"task {name!r} has no {split} examples in {data_dir}")
        columns = {f: table.column(f).take(rows_at).to_pylist() for f in fields}
        rows = [{f: columns[f][i] for f in fields} for i in range(len(rows_at))]
        out[name] = TaskData(name, options, list(labels[name]["labels"]), rows)
    return out
