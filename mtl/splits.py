"""The unified dataset's Parquet files, streamed: records read a batch at a time (a corpus's records file or its
folder of shards, in name order), split files written a row group at a time, and a task's texts read back from them for the
leakage check (mtl/leakage's TextSource).

Row groups hold exactly `rows_per_group` rows whatever the batches that fill them, so the files are byte-identical
from one run to the next (and from a sequential to a distributed run) for the same records and params.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mtl.leakage import Example, Texts


@contextmanager
def returning_memory_pool() -> Iterator[None]:
    """Arrow's allocations through jemalloc for the block, the previous default pool restored after. Measured on
    the 10x corpora (bench/scale.py's replication): with the default mimalloc pool unify's peak grew with the
    corpus (504 MB at 10x against 295 at 1x, writing the splits) though Arrow held 20-40 MB at any time; jemalloc
    hands freed pages back (390 MB at 10x). Without jemalloc in the build, the system allocator (418 MB)."""
    previous = pa.default_memory_pool()
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def record_files(path: Path) -> list[Path]:
    """A corpus's records: one Parquet file, or a folder of shards (part-00000.parquet, ...) in name order."""
    if path.is_dir():
        shards = sorted(p for p in path.iterdir() if p.suffix == ".parquet" and not p.name.startswith((".", "_")))
        if not shards:
            raise FileNotFoundError(f"{path}: a records folder with no Parquet shard: run `mtl ingest` again")
        return shards
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no records (run `mtl ingest` for this corpus first)")
    return [path]


def record_batches(path: Path, schema: pa.Schema, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """A corpus's records in file order, `batch_rows` at most at a time, with every column of the unified schema
    in its order (null where the corpus's kind has no such field)."""
    for shard in record_files(path):
        # ParquetFile reads one row group at a time; pyarrow.dataset's scanner (pre-buffering, readahead) peaked
        # higher with the corpus: writing the splits of the 10x corpora took 416 MB with it, 322 MB with this
        # (265 and 268 MB at 1x)
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=batch_rows):
            if batch.num_rows:
                yield conform(batch, schema)


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = [batch.column(f.name).cast(f.type) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type)
               for f in schema]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


class GroupedWriter:
    """One Parquet file written in row groups of exactly `rows_per_group` rows (the last one shorter)."""

    def __init__(self, path: Path, schema: pa.Schema, rows_per_group: int) -> None:
        self.path, self.schema, self.rows_per_group = path, schema, rows_per_group
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(str(path), schema)

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self._pending.append(batch.cast(self.schema))
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        while self._pending_rows >= self.rows_per_group:
            self._flush(self.rows_per_group)

    def _flush(self, n: int) -> None:
        table = pa.Table.from_batches(self._pending, self.schema).combine_chunks()
        self._writer.write_table(table.slice(0, n), row_group_size=n)
        rest = table.slice(n)
        self._pending, self._pending_rows = rest.to_batches(), rest.num_rows

    def close(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()


class ParquetTexts:
    """A task's (or an extra set's) texts in unified Parquet files, as mtl/leakage's TextSource: read a row
    group at a time, only the row groups whose `task` range holds the task (a split file is in corpus order)."""

    def __init__(self, name: str, task: str, text_fields: list[str], files: dict[str, Path]) -> None:
        self.name, self.task, self.text_fields, self.files = name, task, text_fields, files
        self.texts_per_example = len(text_fields)

    def split_names(self) -> list[str]:
        return list(self.files)

    def _groups(self, split: str) -> Iterator[tuple[int, pa.Table]]:
        """(row number of the group's first row in the file, the group's rows of this task and split)."""
        parquet = pq.ParquetFile(self.files[split])
        task_column = parquet.schema_arrow.get_field_index("task")
        start = 0
        for g in range(parquet.metadata.num_row_groups):
            meta = parquet.metadata.row_group(g)
            stats = meta.column(task_column).statistics
            if stats is None or not stats.has_min_max or stats.min <= self.task <= stats.max:
                table = parquet.read_row_group(g, columns=["task", "split", "source", *self.text_fields])
                yield start, table
            start += meta.num_rows

    def batches(self, split: str) -> Iterator[list[Example]]:
        for start, table in self._groups(split):
            mask = pc.and_(pc.equal(table.column("task"), self.task), pc.equal(table.column("split"), split))
            positions = [start + i for i, keep in enumerate(mask.to_pylist()) if keep]
            table = table.filter(mask)
            texts = [table.column(f).to_pylist() for f in self.text_fields]
            yield [(p, s, tuple(t[i] for t in texts)) for i, (p, s) in
                   enumerate(zip(positions, table.column("source").to_pylist()))]

    def fetch(self, split: str, positions: set[int]) -> dict[int, tuple[str, Texts]]:
        out = {}
        for batch in self.batches(split):
            out.update({p: (source, texts) for p, source, texts in batch if p in positions})
        return out
