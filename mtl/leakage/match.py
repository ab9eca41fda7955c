"""The leakage check's matching (mtl/leakage), on disk: the compared units of the evaluated texts and of the
train streams, and the pairs of them that are exact or near duplicates, in memory that does not grow with them.

Each side's units go to files as they stream in (UnitFile): a row per unit (whose it is, where it is from, its
key's length), its bigram ids in ids.bin, and join entries, the unit's exact-text hash and one key per LSH band
(with the unit's bigram count and where its ids start), hashed into buckets on disk (partitioned_join.py).
Matching joins the evaluated side with the train side a group of buckets at a time: exact pairs from equal
hashes, near-duplicate candidates from equal band keys, each candidate's Jaccard computed at once from the two
bigram sets read back from ids.bin. What stays in memory is a group of buckets and the matches, not an index of
every evaluated text (which grew with the corpus: unify peaked at 909 MB on the 30x corpora with one, 349 MB at
1x). Every entry is written once and read once, so the time stays linear in the corpus.

The result is the one a pass over the train streams in order gives (their order is the units' numbers): per
(stream, evaluated unit) the first exact duplicate, else the most similar near-duplicate, the first of equals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mtl import minhash
from mtl.leakage.partitioned_join import PartitionedSide, join

UNIT = np.dtype([("owner", "<i4"), ("position", "<i8"), ("part", "i1"), ("key_length", "<i4")])  # 17 bytes
# a join entry: a unit's hash or band key, the unit, its owner (a group of evaluated texts, or a train stream),
# its bigram count and where its bigram ids start in ids.bin
ENTRY = np.dtype([("key", "<u8"), ("unit", "<i4"), ("owner", "<i4"), ("size", "<i4"), ("start", "<i8")])
_READ_UNITS = 1 << 18  # unit rows read at a time when some are looked up (4.5 MB)


@dataclass
class Units:
    """A batch of compared units: where each is from, its exact-text hash, its normalised words."""

    positions: list[int] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)  # which text of the example; -1: the whole pair
    hashes: list[int] = field(default_factory=list)
    key_lengths: list[int] = field(default_factory=list)
    sides: list[list[list[str]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)


@dataclass
class Match:
    exact: bool
    score: float
    train_position: int
    train_part: int


class UnitFile:
    """The compared units of one side (evaluated or train) of one comparison mode, under `folder` (which the
    caller removes). A unit's number is its place in the order the units were added; its bigram ids are kept as
    uint32 (a chance collision inside one pair of texts is ~1e-8)."""

    def __init__(self, folder: Path, bands: minhash.Bands) -> None:
        self.folder, self.bands = folder, bands
        folder.mkdir(parents=True)
        for name in ("units.bin", "ids.bin"):
            (folder / name).touch()
        self.exact = PartitionedSide(folder / "exact", ENTRY)
        self.banded = PartitionedSide(folder / "bands", ENTRY)
        self.count = 0
        self.per_owner: Counter[int] = Counter()
        self._bigrams = 0
        self._band_tags = np.arange(bands.bands, dtype=np.uint64) << np.uint64(32)  # band j's keys apart from k's

    def add(self, owner: int, batch: Units) -> None:
        if not len(batch):
            return
        ids, offsets = minhash.shingles(batch.sides)
        n = len(batch)
        rows = np.empty(n, UNIT)
        rows["owner"], rows["position"], rows["part"], rows["key_length"] = owner, batch.positions, batch.parts, \
            batch.key_lengths
        with (self.folder / "units.bin").open("ab") as out:
            rows.tofile(out)
        with (self.folder / "ids.bin").open("ab") as out:
            ids.astype(np.uint32).tofile(out)
        entries = np.empty(n, ENTRY)
        entries["key"], entries["unit"], entries["owner"] = np.array(batch.hashes, np.uint64), np.arange(self.count, self.count + n), owner
        entries["size"], entries["start"] = np.diff(offsets), self._bigrams + offsets[:-1]
        self.exact.add(entries)
        banded = np.repeat(entries, self.bands.bands)
        banded["key"] = (self.bands.keys(ids, offsets).astype(np.uint64) | self._band_tags[None, :]).ravel()
        self.banded.add(banded)
        self.count += n
        self.per_owner[owner] += n
        self._bigrams += len(ids)

    def units(self, numbers: np.ndarray) -> np.ndarray:
        """The rows of the given sorted, distinct unit numbers, the file read a block at a time."""
        out = np.empty(len(numbers), UNIT)
        for start in range(0, self.count if len(numbers) else 0, _READ_UNITS):
            lo, hi = np.searchsorted(numbers, [start, start + _READ_UNITS])
            if hi > lo:
                block = np.fromfile(self.folder / "units.bin", UNIT, count=min(_READ_UNITS, self.count - start),
                                    offset=start * UNIT.itemsize)
                out[lo:hi] = block[numbers[lo:hi] - start]
        return out


def matches(evaluated: UnitFile, train: UnitFile, allowed: np.ndarray, similarity: float
            ) -> dict[tuple[int, int], Match]:
    """(train stream, evaluated unit) -> its match: the stream's first exact duplicate of the unit, else its most
    similar near-duplicate (the first of equals), every LSH candidate's Jaccard computed exactly. allowed[stream,
    group]: whether that stream is compared with that group's evaluated units."""
    exact: dict[tuple[int, int], int] = {}  # (stream, evaluated unit) -> train unit
    for a, b in join(evaluated.exact, train.exact):
        keep = allowed[b["owner"], a["owner"]]
        for stream, unit, number in _first_per_pair(b["owner"][keep], a["unit"][keep], b["unit"][keep]).tolist():
            if exact.get((stream, unit), number) >= number:
                exact[stream, unit] = number
    exact_keys = np.array(sorted(stream << 32 | unit for stream, unit in exact), np.int64)
    near: dict[tuple[int, int], tuple[float, int]] = {}  # (stream, evaluated unit) -> (Jaccard, train unit)
    with (evaluated.folder / "ids.bin").open("rb") as their_ids, (train.folder / "ids.bin").open("rb") as my_ids:
        for a, b in join(evaluated.banded, train.banded):
            keep = allowed[b["owner"], a["owner"]] & (a["size"] >= similarity * b["size"]) & \
                (b["size"] >= similarity * a["size"])  # sizes too far apart cannot reach the threshold
            a, b = a[keep], b[keep]
            keep = ~np.isin(b["owner"].astype(np.int64) << 32 | a["unit"], exact_keys)  # exact: no near match needed
            a, b = a[keep], b[keep]
            order = np.lexsort((b["unit"], a["unit"], b["owner"]))
            a, b = a[order], b[order]
            distinct = np.ones(len(a), bool)  # a pair sharing several bands is scored once
            distinct[1:] = (b["owner"][1:] != b["owner"][:-1]) | (a["unit"][1:] != a["unit"][:-1]) | \
                (b["unit"][1:] != b["unit"][:-1])
            _score(a[distinct], b[distinct], their_ids, my_ids, similarity, near)
    winners = np.unique(np.array([*exact.values(), *(number for _, number in near.values())], np.int64))
    rows = dict(zip(winners.tolist(), train.units(winners)))
    found = {pair: Match(False, score, int(rows[number]["position"]), int(rows[number]["part"]))
             for pair, (score, number) in near.items()}
    found.update({pair: Match(True, 1.0, int(rows[number]["position"]), int(rows[number]["part"]))
                  for pair, number in exact.items()})
    return found


def _score(theirs: np.ndarray, mine: np.ndarray, their_ids: BinaryIO, my_ids: BinaryIO, similarity: float,
           near: dict[tuple[int, int], tuple[float, int]]) -> None:
    """Each candidate pair's Jaccard from the two bigram sets; a pair passing the threshold is kept when it beats
    the pair's best so far (or equals it with an earlier train unit)."""
    their_unit, their_set = -1, set()
    for stream, unit, their_start, their_size, number, my_start, my_size in zip(
            mine["owner"].tolist(), theirs["unit"].tolist(), theirs["start"].tolist(), theirs["size"].tolist(),
            mine["unit"].tolist(), mine["start"].tolist(), mine["size"].tolist()):
        if unit != their_unit:  # sorted by evaluated unit within a stream: its bigrams read once in a row
            their_unit, their_set = unit, _bigrams(their_ids, their_start, their_size)
        my_set = _bigrams(my_ids, my_start, my_size)
        shared = len(my_set & their_set)
        score = shared / (len(my_set) + len(their_set) - shared)
        if score >= similarity:
            best = near.get((stream, unit))
            if best is None or score > best[0] or (score == best[0] and number < best[1]):
                near[stream, unit] = (score, number)


def _bigrams(handle: BinaryIO, start: int, size: int) -> set[int]:
    handle.seek(start * 4)
    return set(np.frombuffer(handle.read(size * 4), np.uint32).tolist())


def _first_per_pair(streams: np.ndarray, units: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """(stream, evaluated unit, train unit) rows, the first train unit per (stream, evaluated unit)."""
    rows = np.stack([streams, units, numbers], axis=1).astype(np.int64)
    rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
    first = np.ones(len(rows), bool)
    first[1:] = np.any(rows[1:, :2] != rows[:-1, :2], axis=1)
    return rows[first]
