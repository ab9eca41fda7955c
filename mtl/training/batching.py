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

import numpy as np


def chunk(order: np.ndarray, lengths: np.ndarray, size: int, unit: str) -> list[list[int]]:
    """Consecutive batches of `order`: `size` sentences each, or at most `size` padded tokens (B x T)
    each (a sentence longer than that alone makes a batch)."""
    if unit == "sentences":
        return [order[i : i + size].tolist() for i in range(0, len(order), size)]
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order.tolist():
        width = max(longest, int(lengths[i]))
        if current and (len(current) + 1) * width > size:
            batches.append(current)
            current, width = [], int(lengths[i])
        current.append(i)
        longest = width
    if current:
        batches.append(current)
    return batches


class BucketBatches(Iterator[list[int]]):
    """An endless stream of batches (lists of example indices) over one task's examples."""

    def __init__(self, lengths: list[int], *, batch_size: int, unit: str, pool_size: int, seed: int, name: str) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size, self.unit, self.pool_size = batch_size, unit, pool_size
        self.seed = [seed, zlib.crc32(name.encode())]  # a stable stream per task, not Python's salted hash
        self.epoch, self.position = 0, 0
        self._batches: list[list[int]] | None = None

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([*self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        if self.pool_size == 1:  # no bucketing: consecutive shuffled sentences
            batches = chunk(order, self.lengths, self.batch_size, self.unit)
            return [batches[i] for i in rng.permutation(len(batches))]
        batches = []
        for start in range(0, len(order), self.pool_size):
            pool = order[start : start + self.pool_size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches += chunk(pool, self.lengths, self.batch_size, self.unit)
        return [batches[i] for i in rng.permutation(len(batches))]

    def __next__(self) -> list[int]:
        if self._batches is None:
            self._batches = self.epoch_batches(self.epoch)
        if self.position >= len(self._batches):
            self.epoch, self.position = self.epoch + 1, 0
            self._batches = self.epoch_batches(self.epoch)
        self.position += 1
        return self._batches[self.position - 1]

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
