"""An equality join of two sides too large to hold in memory: a Grace hash join on disk.

Each side is a stream of entries: rows of a numpy structured type with a uint64 field "key" and whatever else the
caller needs to act on a pair (the leakage check: the unit, whose it is, where its bigrams are). Entries are
hashed by key into BUCKETS bucket files as they come (buffered: a bucket file gets one append per FLUSH_ENTRIES
entries of its side, not one per call); a join then reads the two sides' buckets a few at a time (consecutive
buckets, about JOIN_BYTES of both) and pairs the entries with equal keys, PAIRS at a time. Every entry is
written once and read once, so the time is linear in the entries; the memory is a group of buckets and a slice of
pairs: bounded while a side stays under BUCKETS x JOIN_BYTES (2 GB of entries), growing slowly past that.

Which pairs are found does not depend on the bucket count or on the order the entries were added in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mtl.minhash import mix

BUCKETS = 256  # a key's bucket: the top 8 bits of its mixed hash
FLUSH_ENTRIES = 1 << 18  # entries buffered per side before they go to bucket files (7 MB of 28-byte entries)
PAIRS = 1 << 18  # pairs yielded at a time (a key common to many entries of both sides pairs them all)
JOIN_BYTES = 8 << 20  # entries of both sides read per join step (consecutive buckets until this much)


class PartitionedSide:
    """One side of the join: entries of type `entry` bucketed into files under `folder` (created; the caller
    removes it)."""

    def __init__(self, folder: Path, entry: np.dtype) -> None:
        self.folder, self.entry = folder, entry
        folder.mkdir(parents=True, exist_ok=True)
        self.entries = 0
        self._pending: list[np.ndarray] = []
        self._pending_entries = 0

    def add(self, entries: np.ndarray) -> None:
        if not len(entries):
            return
        self._pending.append(entries)
        self._pending_entries += len(entries)
        self.entries += len(entries)
        if self._pending_entries >= FLUSH_ENTRIES:
            self.flush()

    def flush(self) -> None:
        """Append the buffered entries to their buckets' files (each bucket's in the order they were added)."""
        if not self._pending:
            return
        entries = np.concatenate(self._pending)
        self._pending, self._pending_entries = [], 0
        buckets = (mix(entries["key"]) >> np.uint64(56)).astype(np.int64)
        order = np.argsort(buckets, kind="stable")
        entries, buckets = entries[order], buckets[order]
        bounds = np.searchsorted(buckets, np.arange(BUCKETS + 1))
        for bucket in np.flatnonzero(np.diff(bounds)):
            with (self.folder / f"{bucket:03d}.bin").open("ab") as out:
                entries[bounds[bucket]:bounds[bucket + 1]].tofile(out)

    def size(self, bucket: int) -> int:
        path = self.folder / f"{bucket:03d}.bin"
        return path.stat().st_size if path.is_file() else 0

    def read(self, buckets: range) -> np.ndarray:
        parts = [np.fromfile(self.folder / f"{b:03d}.bin", self.entry) for b in buckets if self.size(b)]
        return np.concatenate(parts) if parts else np.zeros(0, self.entry)


def join(left: PartitionedSide, right: PartitionedSide) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair of a left and a right entry with equal keys, at most PAIRS (or one right entry's pairs) at a
    time: (left entries, right entries), row i of one paired with row i of the other."""
    left.flush()
    right.flush()
    start = 0
    while start < BUCKETS:
        end, held = start, 0
        while end < BUCKETS and (end == start or held + left.size(end) + right.size(end) <= JOIN_BYTES):
            held += left.size(end) + right.size(end)
            end += 1
        a, b = left.read(range(start, end)), right.read(range(start, end))
        start = end
        if not len(a) or not len(b):
            continue
        order = np.argsort(a["key"], kind="stable")
        a = a[order]
        lo = np.searchsorted(a["key"], b["key"], side="left")
        hi = np.searchsorted(a["key"], b["key"], side="right")
        counts = hi - lo
        ends = np.cumsum(counts)  # pairs up to and including each right entry's
        first, done, total = 0, 0, int(ends[-1])
        while done < total:
            last = max(int(np.searchsorted(ends, done + PAIRS, side="right")), first + 1)
            n = counts[first:last]
            right_rows = np.repeat(np.arange(first, last), n)
            left_rows = np.repeat(lo[first:last] - np.cumsum(n) + n, n) + np.arange(len(right_rows))
            yield a[left_rows], b[right_rows]
            first, done = last, int(ends[last - 1])
