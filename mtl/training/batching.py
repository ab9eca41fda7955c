"""Length-bucketed batches, one task per batch.

Each epoch, a task's examples are shuffled, cut into pools of `pool_size` sentences, each pool is sorted
by length and cut into batches, and the batches are shuffled. Sorting inside large shuffled pools puts
sentences of similar length together (little compute spent on padding) while keeping batch contents and
order random from epoch to epoch. pool_size=1 gives plain shuffled batches, for comparison.

An epoch's batches are a pure function of (seed, task, epoch), so the stream's whole state is
(epoch, position): a resumed run rebuilds the epoch and continues at the same batch.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SLICE = 8192  # lengths turned into Python ints at a time while cutting batches


def batch_sizes(order: np.ndarray, lengths: np.ndarray, size: int, unit: str) -> list[int]:
    """How many of `order` each consecutive batch takes: `size` sentences each, or at most `size` padded
    tokens (B x T) each (a sentence longer than that alone makes a batch)."""
    if unit == "sentences":
        full, rest = divmod(len(order), size)
        return [size] * full + ([rest] if rest else [])
    sizes: list[int] = []
    count = longest = 0
    for start in range(0, len(order), SLICE):
        for length in lengths[order[start : start + SLICE]].tolist():
            width = max(longest, length)
            if count and (count + 1) * width > size:
                sizes.append(count)
                count, width = 0, length
            count += 1
            longest = width
    if count:
        sizes.append(count)
    return sizes


def chunk(order: np.ndarray, lengths: np.ndarray, size: int, unit: str) -> list[list[int]]:
    """Consecutive batches of `order`, cut as batch_sizes says."""
    starts = np.cumsum([0, *batch_sizes(order, np.asarray(lengths), size, unit)])
    return [order[a:b].tolist() for a, b in zip(starts[:-1].tolist(), starts[1:].tolist())]


@dataclass
class Epoch:
    """An epoch's batches held as arrays, not lists of Python ints (some 40 bytes a sentence): batch k is
    order[starts[shuffled[k]] : starts[shuffled[k] + 1]]."""

    order: np.ndarray  # the sentences, pool after pool sorted by length (uint32)
    starts: np.ndarray  # (batches + 1,) where each batch of `order` begins
    shuffled: np.ndarray  # the batches' order in the epoch

    def __len__(self) -> int:
        return len(self.shuffled)

    def batch(self, k: int) -> list[int]:
        b = int(self.shuffled[k])
        return self.order[self.starts[b] : self.starts[b + 1]].tolist()


class BucketBatches(Iterator[list[int]]):
    """An endless stream of batches (lists of example indices) over one task's examples."""

    def __init__(self, lengths: list[int], *, batch_size: int, unit: str, pool_size: int, seed: int, name: str) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size, self.unit, self.pool_size = batch_size, unit, pool_size
        self.seed = [seed, zlib.crc32(name.encode())]  # a stable stream per task, not Python's salted hash
        self.epoch, self.position = 0, 0
        self._batches: Epoch | None = None

    def batches_of(self, epoch: int) -> Epoch:
        rng = np.random.default_rng([*self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        if self.pool_size == 1:  # no bucketing: consecutive shuffled sentences
            sizes = batch_sizes(order, self.lengths, self.batch_size, self.unit)
        else:
            sizes = []
            for start in range(0, len(order), self.pool_size):
                pool = order[start : start + self.pool_size]
                pool[:] = pool[np.argsort(self.lengths[pool], kind="stable")]  # in place: pool is a view
                sizes += batch_sizes(pool, self.lengths, self.batch_size, self.unit)
        starts = np.cumsum([0, *sizes], dtype=np.int64)
        compact = order.astype(np.uint32) if len(order) <= np.iinfo(np.uint32).max else order  # 4 bytes a sentence
        return Epoch(compact, starts, rng.permutation(len(sizes)))

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """Every batch of `epoch`, in order, as lists (for inspection: the stream itself keeps the arrays)."""
        batches = self.batches_of(epoch)
        return [batches.batch(k) for k in range(len(batches))]

    def __next__(self) -> list[int]:
        if self._batches is None:
            self._batches = self.batches_of(self.epoch)
        if self.position >= len(self._batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._batches = self.batches_of(self.epoch)
        self.position += 1
        return self._batches.batch(self.position - 1)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._batches = None


def padding_fraction(batches: list[list[int]], lengths: list[int] | np.ndarray) -> float:
    """Share of the padded B x T cells that are padding."""
    lengths = np.asarray(lengths)
    real = sum(int(lengths[b].sum()) for b in batches)
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    return 1.0 - real / padded if padded else 0.0
