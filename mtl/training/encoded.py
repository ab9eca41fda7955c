"""A task's encoded examples, made when a batch asks for them: nothing per example is held between batches.

Encoding every example once before training kept ids that grow with the corpus (a7e1983 packed them into flat
arrays: still 2.3x the memory at 10x the corpus). Here a batch's rows are taken from the task's memory-mapped
store (task_rows.RowStore) and encoded then, with the same vocabulary call and the same kind's target ids
that encoding them all up front made: the same Examples, so the same batches, bit for bit. The cost moves
into each batch's draw (milliseconds; a prefetch thread draws ahead of the model's step, prefetch.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mtl.model.batch import Example

Row = dict[str, Any]


class EncodedRows(Sequence[Example]):
    """`length` examples: take(index) reads rows number `index` with `read` and turns each into an Example with
    `encode`; iterating streams every row once (`stream`), in order."""

    def __init__(self, length: int, read: Callable[[Sequence[int]], list[Row]], stream: Callable[[], Iterator[Row]],
                 encode: Callable[[Row], Example]) -> None:
        self._length, self._read, self._stream, self._encode = length, read, stream, encode

    def __len__(self) -> int:
        return self._length

    def take(self, index: Sequence[int]) -> list[Example]:
        """Examples number `index`, in that order: one read of their rows, then each encoded."""
        return [self._encode(row) for row in self._read(index)]

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise TypeError("EncodedRows takes one index at a time (take() for a batch)")
        i = operator.index(i)
        if not -self._length <= i < self._length:
            raise IndexError(i)
        return self.take([i])[0]

    def __iter__(self) -> Iterator[Example]:
        return (self._encode(row) for row in self._stream())
