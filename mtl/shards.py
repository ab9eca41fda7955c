"""A table written as it streams: a folder of Parquet shards, part-00000.parquet, part-00001.parquet, ... each of at
most `shard_rows` rows, one row group per write.

Readers take the folder whole (`pyarrow.dataset.dataset(folder)`, or `pq.read_table(folder)`): shard names sort
in write order. The same rows written in the same batches give byte-identical shards (nothing in them varies by
run: no timestamps, no random names), so DVC sees an unchanged shard as unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

SHARD = "part-{:05d}.parquet"


class ShardWriter:
    def __init__(self, folder: Path, schema: pa.Schema, shard_rows: int) -> None:
        """Empties `folder` first (an earlier run's shards would be read as this run's), then writes into it."""
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be at least 1, not {shard_rows}")
        self.folder, self.schema, self.shard_rows = Path(folder), schema, shard_rows
        if self.folder.is_dir():
            shutil.rmtree(self.folder)
        elif self.folder.exists():
            self.folder.unlink()
        self.folder.mkdir(parents=True)
        self.shards = 0
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_shard = 0

    def write(self, table: pa.Table) -> None:
        """Append rows, starting a new shard whenever the current one holds shard_rows."""
        offset = 0
        while offset < table.num_rows:
            if self._writer is None or self._in_shard == self.shard_rows:
                self._next_shard()
            take = min(self.shard_rows - self._in_shard, table.num_rows - offset)
            self._writer.write_table(table.slice(offset, take))
            offset += take
            self._in_shard += take
            self.rows += take

    def _next_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer = pq.ParquetWriter(self.folder / SHARD.format(self.shards), self.schema)
        self.shards += 1
        self._in_shard = 0

    def close(self) -> None:
        """Finish the last shard. No rows at all still gives one empty shard: the folder always says its schema."""
        if self._writer is None:
            self._next_shard()
        self._writer.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
