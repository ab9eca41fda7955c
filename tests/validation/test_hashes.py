"""HashSet64, the compact set behind the duplicate-uid and train/test overlap checks: the same answers as a Python
set of the strings, batch by batch."""

from __future__ import annotations

import random

import numpy as np

from mtl.validation.hashes import HashSet64, hashes_of


def test_add_says_what_was_seen_before_or_earlier_in_the_batch_as_a_python_set_does():
    rng = random.Random(3)
    words = [f"w{rng.randrange(400)}" for _ in range(3000)]
    seen: set[str] = set()
    hashes = HashSet64()
    for start in range(0, len(words), 97):  # batches of an odd size, repeats within and across them
        batch = words[start:start + 97]
        expected = []
        for word in batch:
            expected.append(word in seen)
            seen.add(word)
        assert hashes.add(hashes_of(batch)).tolist() == expected
    assert len(hashes) == len(seen)
    probe = [f"w{i}" for i in range(0, 800, 3)]
    assert hashes.contains(hashes_of(probe)).tolist() == [word in seen for word in probe]


def test_an_empty_set_contains_nothing_and_hashes_are_stable():
    assert HashSet64().contains(hashes_of(["a"])).tolist() == [False]
    assert hashes_of([]).dtype == np.uint64 and len(hashes_of([])) == 0
    assert hashes_of(["a\ud800b"])[0] == hashes_of(["a\ud800b"])[0]  # a lone surrogate hashes, never raises
    assert hashes_of(["same"])[0] == hashes_of(["same"])[0] != hashes_of(["other"])[0]
