"""The unified dataset as training and evaluation read it: per task, its rows (the kind's fields), gold answers
and encoded examples.

A split's rows stay on disk: each task keeps where its rows lie (task_rows.TaskRows: row numbers, 4 bytes a
row) and the lengths the batching sorts by (2 bytes a row, computed in Arrow). Passes over the rows (the
vocabulary, the lengths, an evaluation's inputs and gold) stream the Parquet a record batch at a time; a
training batch takes its rows from the task's memory-mapped store and encodes them then (encoded.EncodedRows),
so what a training process holds per example is those 6 bytes, not its ids. `inputs` streams when iterated
(the vocabulary is counted that way) and is listed whole only when indexed; `rows` is a list again wherever a
caller assigns one (bench/training.py cuts the dev sets to two rows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mtl.config import Params
from mtl.model.batch import Example
from mtl.model.vocab import Vocab, build_vocab
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions
from mtl.training.encoded import EncodedRows
from mtl.training.task_rows import LazyList, TaskRows


@dataclass
class TaskData:
    name: str
    options: TaskOptions  # the task's params (its kind and the kind's options)
    labels: list[str]
    rows: Sequence[dict[str, Any]] = field(repr=False)  # the kind's fields per example: TaskRows, or a list
    examples: Sequence[Example] = field(default_factory=list, repr=False)  # EncodedRows, set by encode()

    @property
    def kind(self) -> str:
        return self.options.kind

    @cached_property
    def options_dict(self) -> dict[str, Any]:
        """The options as the kind's loss and decoding read them from a batch (built once, not per step)."""
        return self.options.model_dump()

    @property
    def text_fields(self) -> list[str]:
        return kind_of(self.options).text_fields(self.options)

    def _columns(self) -> Iterator[dict[str, list]]:
        """The rows a batch at a time, as {field: values}: read from the file, or cut from the list."""
        if isinstance(self.rows, TaskRows):
            yield from self.rows.columns()
            return
        fields = list(kind_of(self.options).fields(self.options))
        rows = list(self.rows)
        yield {f: [row[f] for row in rows] for f in fields}

    def _inputs(self) -> Iterator[tuple[list[str], ...]]:
        texts = self.text_fields
        for part in self._columns():
            yield from zip(*(part[text] for text in texts))

    @property
    def inputs(self) -> Sequence[tuple[list[str], ...]]:
        """Each example's texts: (tokens,), or (tokens, tokens_b) for a pair. Read in one pass when iterated;
        listed whole (and kept by the returned object) at the first index."""
        return LazyList(len(self.rows), self._inputs)

    @property
    def gold(self) -> list:
        kind = kind_of(self.options)
        return [kind.target(row) for row in self._rows()]

    def _rows(self) -> Iterator[dict[str, Any]]:
        for part in self._columns():
            names = list(part)
            yield from (dict(zip(names, values)) for values in zip(*part.values()))

    def encode(self, vocab: Vocab) -> None:
        """Encode with `vocab` from now on: `examples` makes a batch's Examples when asked (examples_at), from the
        rows' memory-mapped store, copied here once (a streamed pass) so the first batch does not pay for it."""
        kind, texts = kind_of(self.options), self.text_fields
        label_ids = {label: i for i, label in enumerate(self.labels)}

        def example(row: dict[str, Any]) -> Example:
            return Example(vocab.encode_texts([row[text] for text in texts]), kind.target_ids(row, label_ids))

        if isinstance(self.rows, TaskRows):
            self.rows.prepare()
            read = self.rows.take
        else:
            read = lambda index: [self.rows[i] for i in index]  # noqa: E731 (an assigned list)
        self.examples = EncodedRows(len(self.rows), read, self._rows, example)

    def examples_at(self, index: Sequence[int]) -> list[Example]:
        """The examples number `index`, in that order, encoded now: one batch's."""
        if not isinstance(self.examples, EncodedRows):
            raise RuntimeError(f"task {self.name!r}: call encode(vocab) before drawing batches")
        return self.examples.take(index)

    def lengths(self) -> np.ndarray:
        """Tokens per example, all its texts together: what a token-budget batch counts."""
        if isinstance(self.rows, TaskRows):
            return self.rows.list_lengths(self.text_fields)
        return np.asarray([sum(map(len, texts)) for texts in self._inputs()], dtype=np.int64)


def read_labels(path: Path) -> dict[str, dict]:
    """The unified dataset's label file (paths.labels): {task: {kind, labels, options}}."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_split(data_dir: Path, split: str, tasks: dict[str, TaskOptions], labels: dict[str, dict]
               ) -> dict[str, TaskData]:
    """{task: TaskData} of one split, for the configured tasks (in their params order). Reads the task column
    only: each task's rows are read from the file when used."""
    path = data_dir / f"{split}.parquet"
    columns = pq.read_schema(path).names
    fields: dict[str, list[str]] = {}
    for name, options in tasks.items():
        if name not in labels:
            raise ValueError(f"task {name!r} is configured but the dataset's labels have none for it: rebuild "
                             "the dataset (`mtl unify`)")
        fields[name] = list(kind_of(options).fields(options))
        missing = [f for f in fields[name] if f not in columns]
        if missing:
            raise ValueError(f"{path} has no column {missing} for task {name!r}: rebuild the dataset (`mtl unify`)")
    out = {}
    for name, rows in TaskRows.locate(path, fields).items():
        if not len(rows):
            raise ValueError(f"task {name!r} has no {split} examples in {data_dir}")
        out[name] = TaskData(name, tasks[name], list(labels[name]["labels"]), rows)
    return out


def load_training_data(params: Params, data_dir: Path, split: str = "train") -> tuple[dict[str, TaskData], Vocab]:
    """A training process's data load, as the loop's setup does it for a word-level encoder: read the split
    (every configured task), count the word vocabulary from it, ready each task's encoding (its rows' store).
    What bench/ measures, with the lengths and batches drawn after it."""
    data = read_split(data_dir, split, params.tasks, read_labels(data_dir / params.paths.labels))
    words = params.model.words
    vocab = build_vocab((text for task in data.values() for texts in task.inputs for text in texts),
                        min_count=words.min_count, lowercase=words.lowercase, max_word_chars=words.max_chars)
    for task in data.values():
        task.encode(vocab)
    return data, vocab
