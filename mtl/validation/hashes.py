"""Sets of strings held as 64-bit hashes in one sorted numpy array, for the checks that must remember every record
of a corpus as it streams by (uids already seen, train texts a test text may repeat).

8 bytes a member, where a Python set of the strings takes ~100 (the str object, its hash slot and the set's
slack): 10 million train texts cost 80 MB instead of ~1 GB. The price is a false match when two different strings
share a 64-bit hash: about n^2 / 2^65, one chance in 370,000 at 10 million members; a false match can only
quarantine a record as a duplicate uid or count a test text as overlapping train, both of which a person sees
named in the quarantine or the report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np


def hash64(text: str) -> int:
    # surrogatepass: a lone surrogate (a JSON "\ud800") must hash, not raise; such a record is quarantined later
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def hashes_of(texts: Iterable[str]) -> np.ndarray:
    return np.fromiter((hash64(text) for text in texts), dtype=np.uint64)


class HashSet64:
    """A growing set of uint64 hashes, sorted so that a lookup is a binary search and an insert one merge."""

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def nbytes(self) -> int:
        return int(self._sorted.nbytes)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """A bool per hash: is it a member."""
        if not len(self._sorted) or not len(hashes):
            return np.zeros(len(hashes), dtype=bool)
        at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        return self._sorted[at] == hashes

    def add(self, hashes: np.ndarray) -> np.ndarray:
        """Add `hashes`; return a bool per hash: was it here already (a member before, or earlier in `hashes`)."""
        seen = self.contains(hashes)
        _, first = np.unique(hashes, return_index=True)
        repeated = np.ones(len(hashes), dtype=bool)
        repeated[first] = False  # every copy after the first of a hash within this call
        seen |= repeated
        new = np.sort(hashes[~seen])
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, new), new)
        return seen
