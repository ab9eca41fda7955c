"""One task's rows of a unified split file, read from disk when they are asked for.

A unified split holds every task's rows in one Parquet file. Training and evaluation keep, per task, only
where its rows lie: their row numbers, a numpy array of the smallest integer type that holds them (4 bytes a
row up to 4 billion rows). A pass over the rows (the vocabulary, the lengths, an evaluation) decodes the
Parquet (memory-mapped) a record batch at a time, filtered to the task. Random access (a training batch:
rows from anywhere in the task) cannot decode a Parquet row group per row, so the task's fields are copied
once, streamed, into an uncompressed Arrow IPC file of small record batches, opened and unlinked at once
(RowStore): a batch's rows are read from it a few kilobytes each, through the kernel's page cache, and the
file disappears with the process, however it ends.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

T = TypeVar("T")

BATCH_ROWS = 8192  # rows decoded at a time when streaming: bounds the memory of a pass, not its speed
STORE_ROWS = 64  # rows per record batch of a task's store: a batch's row reads ~64 rows (~8 KB) for each it needs


def smallest_int(values: np.ndarray) -> np.ndarray:
    """The same non-negative integers in the smallest unsigned type that holds them (lengths: uint8/uint16)."""
    high = int(values.max()) if values.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if high <= np.iinfo(dtype).max:
            return values.astype(dtype, copy=False)
    raise AssertionError("unreachable: uint64 holds every row number")


class RowStore:
    """Rows written once to an Arrow IPC file in record batches of STORE_ROWS, then read back by positional
    reads (pread) of the few record batches that hold the rows asked for. Not memory-mapped: pages of a map
    count in the process's resident memory once touched, so a training run drawing rows from everywhere would
    grow to the whole store's size; read, they sit in the kernel's page cache instead (shared, dropped under
    pressure). The file is unlinked as soon as it is open: it goes with the process, however that ends."""

    def __init__(self, batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> None:
        handle, name = tempfile.mkstemp(prefix="mtl-task-rows-", suffix=".arrow")
        os.close(handle)
        sizes: list[int] = []
        try:
            with pa.OSFile(name, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
                for batch in batches:
                    for at in range(0, batch.num_rows, STORE_ROWS):
                        piece = batch.slice(at, STORE_ROWS)
                        writer.write_batch(piece)
                        sizes.append(piece.num_rows)
            self._file = pa.OSFile(name, "rb")
        finally:
            os.unlink(name)  # the open file keeps the data; the name goes now, so nothing is left behind
        self._reader = pa.ipc.open_file(self._file)
        self._starts = np.cumsum([0, *sizes], dtype=np.int64)
        self._lock = threading.Lock()  # one reader, shared by the threads that draw batches

    def __len__(self) -> int:
        return int(self._starts[-1])

    def take(self, numbers: np.ndarray) -> list[dict[str, Any]]:
        """The rows numbered `numbers` (0 <= n < len), as dicts, in that order: the record batches holding them
        read, joined (a few thousand rows) and taken from in one call (a take per record batch costs twice)."""
        chunk = np.searchsorted(self._starts, numbers, side="right") - 1
        needed, which = np.unique(chunk, return_inverse=True)
        with self._lock:
            batches = [self._reader.get_batch(c) for c in needed.tolist()]
        if not batches:
            return []
        joined_at = np.cumsum([0] + [batch.num_rows for batch in batches[:-1]], dtype=np.int64)
        local = numbers - self._starts[chunk] + joined_at[which]
        return pa.Table.from_batches(batches).combine_chunks().take(pa.array(local)).to_pylist()


class TaskRows(Sequence[dict[str, Any]]):
    """The rows of task `task` in `path`, each a {field: value} dict of the kind's `fields`, in file order."""

    def __init__(self, path: Path, task: str, fields: list[str], positions: np.ndarray) -> None:
        self.path, self.task, self.fields = path, task, list(fields)
        self.positions = positions  # row numbers in the file, ascending
        metadata = pq.ParquetFile(path).metadata
        sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        groups = np.searchsorted(starts, positions, side="right") - 1
        self._groups = np.unique(groups).tolist()  # the row groups holding this task's rows: the rest is never read
        self._store: RowStore | None = None
        self._store_lock = threading.Lock()  # a batch may be drawn in a prefetch thread

    @classmethod
    def locate(cls, path: Path, fields: dict[str, list[str]]) -> dict[str, TaskRows]:
        """{task: its rows} for the tasks in `fields` ({task: the kind's fields}), reading only the task column,
        a record batch at a time."""
        file = pq.ParquetFile(path, memory_map=True)
        dtype = smallest_int(np.array([file.metadata.num_rows])).dtype  # every part small from the start
        found: dict[str, list[np.ndarray]] = {task: [] for task in fields}
        at = 0
        for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=["task"]):
            column = batch.column("task")
            for task, parts in found.items():
                mine = np.flatnonzero(pc.equal(column, task).to_numpy(zero_copy_only=False))
                if mine.size:
                    parts.append((mine + at).astype(dtype))
            at += batch.num_rows
        return {task: cls(path, task, task_fields, np.concatenate(found[task]) if found[task] else np.zeros(0, dtype))
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
        """Per row, the summed lengths of list `columns` (tokens per example), computed in Arrow; the smallest
        unsigned type that holds them (uint16 for sentences under 65,536 tokens: 2 bytes a row)."""
        out = np.zeros(len(self), dtype=np.uint32)  # 4 bytes a row while summing, then smaller
        at = 0
        for batch in self.batches(columns):
            for name in columns:
                lengths = pc.fill_null(pc.list_value_length(batch.column(name)), 0)
                out[at : at + batch.num_rows] += lengths.to_numpy(zero_copy_only=False).astype(out.dtype)
            at += batch.num_rows
        return smallest_int(out)

    def prepare(self) -> None:
        """Copy the task's fields to its memory-mapped store now (one streamed pass), not at the first take."""
        with self._store_lock:
            if self._store is None:
                whole = pq.read_schema(self.path)
                schema = pa.schema([whole.field(name) for name in self.fields])
                self._store = RowStore(self.batches(), schema)

    def take(self, index: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """The task's rows number `index` (0-based within the task, negatives from the end), in that order."""
        numbers = np.asarray(index, dtype=np.int64).reshape(-1)
        numbers = np.where(numbers < 0, numbers + len(self), numbers)
        if numbers.size and not (0 <= numbers.min() and numbers.max() < len(self)):
            raise IndexError(f"row {numbers[(numbers < 0) | (numbers >= len(self))][0]} of task {self.task!r}, "
                             f"which has {len(self)}")
        self.prepare()
        return self._store.take(numbers)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index):
        """Random access, from the store (iterate for a pass over all)."""
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        return self.take([index])[0]


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
