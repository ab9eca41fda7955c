"""A task's encoded examples packed into a few flat numpy arrays, handed out one Example at a time.

A list of Example objects costs two small arrays and three Python objects per text per example (some 400
bytes of overhead on a 10-token sentence) and keeps each text's char ids padded to its longest word. Here
each text position keeps its word ids end to end, its char ids without the padding of each word's row,
offsets into both, and each example's char width; targets are one flat array (plus offsets for per-token
targets). Every array uses the smallest integer type that holds its values. `examples[i]` rebuilds the very
Example the vocabulary made (same values, same dtypes, same shapes), so batches are the same bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtl.model.batch import Encoding, Example

CHUNK = 4096  # examples gathered before their small arrays are joined into one


def compact(values: np.ndarray) -> np.ndarray:
    """The same integers in the smallest type that holds them (ids: mostly uint16)."""
    if values.dtype.kind not in "iu" or not values.size:
        return values
    low, high = int(values.min()), int(values.max())
    for dtype in (np.uint8, np.uint16, np.int32, np.int64):
        if np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max:
            return values.astype(dtype, copy=False)
    return values


def _offsets(sizes: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64) if sizes else np.zeros(1, np.int64)


@dataclass
class _Text:
    """One text position of every example: word ids, unpadded char ids, and where each example's lie."""

    words: np.ndarray  # all examples' word ids, end to end
    word_dtype: np.dtype  # the vocabulary's own dtype, given back on access
    token_at: np.ndarray  # (n + 1,) example i's tokens are token_at[i]:token_at[i + 1]
    chars: np.ndarray  # all tokens' char ids up to their last non-zero one
    char_dtype: np.dtype
    char_at: np.ndarray  # (tokens + 1,) token j's chars are char_at[j]:char_at[j + 1]
    width: np.ndarray  # (n,) each example's char matrix width

    def encoding(self, i: int) -> Encoding:
        a, b = int(self.token_at[i]), int(self.token_at[i + 1])
        counts = np.diff(self.char_at[a : b + 1])
        chars = np.zeros((b - a, int(self.width[i])), dtype=self.char_dtype)
        chars[np.arange(chars.shape[1]) < counts[:, None]] = self.chars[self.char_at[a] : self.char_at[b]]
        return self.words[a:b].astype(self.word_dtype), chars


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {"words": [], "n_tokens": [], "chars": [], "n_chars": [], "width": []}
        self.pending: dict[str, list[np.ndarray]] = {key: [] for key in self.parts}
        self.word_dtype = self.char_dtype = np.dtype(np.int64)

    def add(self, encoding: Encoding) -> None:
        words, chars = encoding
        self.word_dtype, self.char_dtype = words.dtype, chars.dtype
        nonzero = chars != 0
        # Chars kept per token: up to its last non-zero id (so a zero inside a row is kept, and rebuilt).
        kept = np.where(nonzero.any(axis=1), chars.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0) \
            if chars.size else np.zeros(chars.shape[0], dtype=np.int64)
        pending = self.pending
        pending["words"].append(words)
        pending["n_tokens"].append(np.array([len(words)]))
        pending["chars"].append(chars[np.arange(chars.shape[1]) < kept[:, None]])
        pending["n_chars"].append(kept)
        pending["width"].append(np.array([chars.shape[1]]))
        if len(pending["words"]) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for key, arrays in self.pending.items():
            if arrays:
                self.parts[key].append(compact(np.concatenate(arrays)))
            arrays.clear()

    def build(self) -> _Text:
        self.flush()
        joined = {key: compact(np.concatenate(parts)) if parts else np.zeros(0, np.int64) for key, parts in self.parts.items()}
        return _Text(joined["words"], self.word_dtype, _offsets(self.parts["n_tokens"]), joined["chars"], self.char_dtype,
                     _offsets(self.parts["n_chars"]), joined["width"])


class EncodedExamples(Sequence[Example]):
    """A task's examples, packed; `examples[i]` is an Example (its arrays rebuilt from the packed ones)."""

    def __init__(self, texts: list[_Text], targets: np.ndarray | list, target_at: np.ndarray | None) -> None:
        self._texts, self._targets, self._target_at = texts, targets, target_at

    @classmethod
    def pack(cls, examples: Iterable[tuple[list[Encoding], Any]]) -> EncodedExamples:
        """From (the texts' encodings, the kind's target ids) per example, streamed: only packed arrays are kept.

        Targets: a list of numbers per example (per-token ids) becomes flat values plus offsets, a number
        (a label id, a score) one array of them; anything else stays a Python list, as the kind made it."""
        texts: list[_TextBuilder] = []
        targets: list = []
        for encodings, target in examples:
            if not texts:
                texts = [_TextBuilder() for _ in encodings]
            for builder, encoding in zip(texts, encodings, strict=True):
                builder.add(encoding)
            targets.append(target)
        values, target_at = _pack_targets(targets)
        return cls([builder.build() for builder in texts], values, target_at)

    def __len__(self) -> int:
        return len(self._texts[0].width) if self._texts else 0

    def __getitem__(self, i):
        if not isinstance(i, (int, np.integer)):
            raise TypeError("EncodedExamples takes one index at a time")
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return Example([text.encoding(i) for text in self._texts], self.target(i))

    def __iter__(self) -> Iterator[Example]:
        return (self[i] for i in range(len(self)))

    def target(self, i: int) -> Any:
        if self._target_at is not None:
            return self._targets[self._target_at[i] : self._target_at[i + 1]].tolist()
        return self._targets[i] if isinstance(self._targets, list) else self._targets[i].item()

    def nbytes(self) -> int:
        """Bytes held by the packed arrays."""
        arrays = [a for t in self._texts for a in (t.words, t.token_at, t.chars, t.char_at, t.width)]
        arrays += [a for a in (self._targets, self._target_at) if isinstance(a, np.ndarray)]
        return sum(a.nbytes for a in arrays)


def _pack_targets(targets: list) -> tuple[np.ndarray | list, np.ndarray | None]:
    """(values, offsets or None); the targets as they came when they are neither numbers nor lists of numbers."""
    def numbers(values: list) -> np.ndarray | None:
        if all(type(v) is int for v in values):
            return np.asarray(values, dtype=np.int64)
        if all(type(v) is float for v in values):
            return np.asarray(values, dtype=np.float64)  # a Python float is a float64: .item() gives it back exactly
        return None

    if targets and all(type(t) is list for t in targets):
        flat = numbers([v for t in targets for v in t])
        if flat is not None:
            return (compact(flat) if flat.dtype.kind == "i" else flat), _offsets([np.array([len(t) for t in targets])])
    if targets:
        values = numbers(targets)
        if values is not None:
            return (compact(values) if values.dtype.kind == "i" else values), None
    return targets, None
