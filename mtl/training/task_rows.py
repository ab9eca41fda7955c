"""One task's rows of a unified split file, read from the file (memory-mapped) when they are asked for.

A unified split holds every task's rows in one Parquet file. Training and evaluation keep, per task, only
where its rows lie (their row numbers, a numpy array); the rows themselves are decoded a record batch at a
time, filtered to the task, and dropped once the caller has used them. So a process that trains on every
task holds the encoded examples, not every split's raw rows as Python objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

T = TypeVar("T")

BATCH_ROWS = 8192  # rows decoded at a time when streaming: bounds the memory of a pass, not its speed


class TaskRows(Sequence[dict[str, Any]]):
    """The rows of task `task` in `path`, each a {field: value} dict of the kind's `fields`, in file order."""

    def __init__(self, path: Path, task: str, fields: list[str], positions: np.ndarray) -> None:
        self.path, self.task, self.fields = path, task, list(fields)
        self.positions = positions  # row numbers in the file, ascending
        metadata = pq.ParquetFile(path, memory_map=True).metadata
        sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
        self._group_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        groups = np.searchsorted(self._group_starts, positions, side="right") - 1
        self._groups = np.unique(groups).tolist()  # the row groups holding this task's rows: the rest is never read

    @classmethod
    def locate(cls, path: Path, fields: dict[str, list[str]]) -> dict[str, TaskRows]:
        """{task: its rows} for the tasks in `fields` ({task: the kind's fields}), reading only the task column."""
        table = pq.read_table(path, columns=["task"], memory_map=True)
        column = table.column("task")
        return {task: cls(path, task, task_fields, np.flatnonzero(pc.equal(column, task).to_numpy(zero_copy_only=False)))
                for task, task_fields in fields.items()}

    def __len__(self) -> int:
        return len(self.positions)

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The task's rows, `columns` of them (default: its fields), a record batch at a time, in file order."""
        columns = self.fields if columns is None else columns
        if not len(self.positions):
            return
        file = pq.ParquetFile(self.path, memory_map=True)
        for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=self._groups, columns=["task", *columns]):
            mine = batch.filter(pc.equal(batch.column("task"), self.task))
            if mine.num_rows:
                yield mine.select(columns)

    def columns(self, columns: list[str] | None = None) -> Iterator[dict[str, list]]:
        """As batches(), each batch as {column: Python values}."""
        for batch in self.batches(columns):
            yield {name: batch.column(name).to_pylist() for name in batch.schema.names}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for part in self.columns():
            yield from ({f: part[f][i] for f in self.fields} for i in range(len(part[self.fields[0]])))

    def list_lengths(self, columns: list[str]) -> np.ndarray:
        """Per row, the summed lengths of list `columns` (tokens per example), computed in Arrow."""
        out = np.zeros(len(self), dtype=np.int64)
        at = 0
        for batch in self.batches(columns):
            for name in columns:
                lengths = pc.fill_null(pc.list_value_length(batch.column(name)), 0)
                out[at : at + batch.num_rows] += lengths.to_numpy(zero_copy_only=False)
            at += batch.num_rows
        return out

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index):
        """Random access reads the row groups holding the rows asked for (iterate for a pass over all)."""
        if isinstance(index, slice):
            return self._take(self.positions[index])
        return self._take(self.positions[[index]])[0]

    def _take(self, positions: np.ndarray) -> list[dict[str, Any]]:
        file = pq.ParquetFile(self.path, memory_map=True)
        groups = np.searchsorted(self._group_starts, positions, side="right") - 1
        rows: list[dict[str, Any]] = [{}] * len(positions)
        for group in np.unique(groups).tolist():
            at = np.flatnonzero(groups == group)
            table = file.read_row_group(group, columns=self.fields)
            for k, row in zip(at.tolist(), table.take(pa.array(positions[at] - self._group_starts[group])).to_pylist()):
                rows[k] = row
        return rows


class LazyList(Sequence[T]):
    """A sequence made in one pass when iterated, and listed whole (once, then kept by this object) at the first
    random access: what a caller holds is its own choice, for as long as it keeps the object."""

    def __init__(self, length: int, produce: Callable[[], Iterator[T]]) -> None:
        self._length, self._produce = length, produce
        self._items: list[T] | None = None

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[T]:
        return iter(self._items) if self._items is not None else self._produce()

    def __getitem__(self, index):
        if self._items is None:
            self._items = list(self._produce())
        return self._items[index]
