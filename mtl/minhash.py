"""Compact text fingerprints for the leakage check (mtl/leakage): 64-bit hashes of normalised texts, word-bigram
shingles as integers, and MinHash locality-sensitive hashing (Broder 1997; bands as in Leskovec, Rajaraman and
Ullman, Mining of Massive Datasets, ch. 3) to find the pairs whose Jaccard similarity may pass a threshold.

Everything is numpy arrays, so an index of N texts costs a few dozen bytes a text rather than Python sets of
strings. The hashes are fixed functions (crc32, blake2b, fixed multipliers), never Python's salted `hash`, so two
runs and two machines find the same pairs.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass

import numpy as np

_MISS = 1e-3  # chance that a pair exactly at the threshold shares no band (so is never compared)
_MAX_HASHES = 64  # bands x rows cap: hashing cost grows with it
_CHUNK_CELLS = 2_000_000  # hashes x shingles per step: bounds the temporary matrix (16 MB of uint64)
_MASK = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_START, _END = 0x02, 0x03  # the padding words that mark a text's two ends


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit (crc32 alone is linear)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def text_hash(key: str) -> int:
    """64 bits of a normalised text: two different texts collide with chance ~N^2/2^65 (none in 10^8 texts)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def shingles(units: list[list[list[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's word-bigram set as distinct uint64 ids (a unit: its sides, each a list of normalised words; a
    text's two ends padded, a pair's second side marked apart, as in mtl/leakage). Returns (ids, offsets):
    unit i's ids are ids[offsets[i]:offsets[i + 1]], sorted."""
    left: list[int] = []
    right: list[int] = []
    marks: list[int] = []
    owners: list[int] = []
    for i, sides in enumerate(units):
        for side, words in enumerate(sides):
            codes = [_START, *(zlib.crc32(w.encode("utf-8")) + 4 for w in words), _END]  # +4: above the pads
            left += codes[:-1]
            right += codes[1:]
            marks += [side] * (len(codes) - 1)
            owners += [i] * (len(codes) - 1)
    if not owners:
        return np.zeros(0, np.uint64), np.zeros(len(units) + 1, np.int64)
    with np.errstate(over="ignore"):
        pairs = (np.array(left, np.uint64) << np.uint64(32)) ^ np.array(right, np.uint64)
        ids = mix(pairs ^ (np.array(marks, np.uint64) * np.uint64(0x9E3779B97F4A7C15)))
    owner = np.array(owners, np.int64)
    order = np.lexsort((ids, owner))
    ids, owner = ids[order], owner[order]
    keep = np.ones(len(ids), bool)
    keep[1:] = (ids[1:] != ids[:-1]) | (owner[1:] != owner[:-1])  # a bigram twice in a text counts once
    ids, owner = ids[keep], owner[keep]
    offsets = np.searchsorted(owner, np.arange(len(units) + 1), side="left").astype(np.int64)
    return ids, offsets


@dataclass(frozen=True)
class Bands:
    """LSH banding: `bands` bands of `rows` MinHash values; two sets of Jaccard s share a band with chance
    1 - (1 - s^rows)^bands."""

    bands: int
    rows: int

    @classmethod
    def for_threshold(cls, similarity: float) -> Bands:
        """The fewest hashes that miss a pair at the threshold with chance at most _MISS: the most rows per band
        (fewer chance candidates) whose band count stays within _MAX_HASHES."""
        best = None
        for rows in range(1, _MAX_HASHES + 1):
            hit = similarity ** rows
            bands = 1 if hit >= 1 else math.ceil(math.log(_MISS) / math.log(1 - hit))
            if bands * rows > _MAX_HASHES:
                break
            best = cls(bands, rows)
        return best or cls(_MAX_HASHES, 1)

    def hit_chance(self, similarity: float) -> float:
        return 1 - (1 - similarity ** self.rows) ** self.bands

    def keys(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(units x bands) uint32 band keys: equal keys in one band column make a candidate pair. 32 bits: a chance
        collision only adds a candidate, which the exact Jaccard then drops."""
        n_hashes = self.bands * self.rows
        rng = np.random.default_rng(0x5EED)  # fixed: the same hash functions in every run
        multipliers = rng.integers(1, 2**63, n_hashes, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        increments = rng.integers(0, 2**63, n_hashes, dtype=np.uint64)
        n_units = len(offsets) - 1
        minima = np.empty((n_hashes, n_units), np.uint64)
        step = max(1, _CHUNK_CELLS // n_hashes)
        start = 0
        while start < n_units:  # units in chunks of about `step` shingles
            end = int(np.searchsorted(offsets, offsets[start] + step, side="right")) - 1
            end = min(max(end, start + 1), n_units)
            lo, hi = offsets[start], offsets[end]
            with np.errstate(over="ignore"):
                hashed = multipliers[:, None] * ids[None, lo:hi] + increments[:, None]  # multiply-add mod 2^64
            minima[:, start:end] = np.minimum.reduceat(hashed, offsets[start:end] - lo, axis=1)
            start = end
        folded = minima.reshape(self.bands, self.rows, n_units)
        with np.errstate(over="ignore"):
            weights = mix(np.arange(1, self.rows + 1, dtype=np.uint64))[None, :, None]
            keys = (folded * weights).sum(axis=1, dtype=np.uint64)
        return (mix(keys) >> np.uint64(32)).astype(np.uint32).T.copy()
