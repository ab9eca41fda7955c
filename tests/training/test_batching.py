"""Length bucketing: less padding, every example once per epoch, budgets kept, resumable position."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mtl.training.batching import BucketBatches, chunk, padding_fraction

LENGTHS = np.random.default_rng(0).integers(1, 60, size=2000).tolist()  # a skewed-enough mix


def stream(pool_size: int, unit: str = "tokens", size: int = 400, seed: int = 0) -> BucketBatches:
    return BucketBatches(LENGTHS, batch_size=size, unit=unit, pool_size=pool_size, seed=seed, name="pos")


@pytest.mark.parametrize("unit,size", [("tokens", 400), ("sentences", 16)])
def test_bucketing_pads_far_less_than_shuffled_batches(unit, size):
    bucketed = padding_fraction(stream(512, unit, size).epoch_batches(0), LENGTHS)
    shuffled = padding_fraction(stream(1, unit, size).epoch_batches(0), LENGTHS)
    assert shuffled > 0.3 and bucketed < 0.05 and bucketed < shuffled / 5


@pytest.mark.parametrize("pool_size", [1, 100, 5000])
def test_an_epoch_holds_every_example_once(pool_size):
    batches = stream(pool_size).epoch_batches(3)
    assert sorted(itertools.chain.from_iterable(batches)) == list(range(len(LENGTHS)))


def test_token_budget_is_kept_unless_a_sentence_alone_exceeds_it():
    lengths = np.array([5, 7, 30, 3, 3, 3])
    assert chunk(np.arange(6), lengths, 20, "tokens") == [[0, 1], [2], [3, 4, 5]]  # 2 x 7, 1 x 30, 3 x 3
    for batch in stream(512).epoch_batches(0):
        assert len(batch) * max(LENGTHS[i] for i in batch) <= 400


def test_sentence_batches_have_the_asked_size():
    sizes = [len(b) for b in stream(512, "sentences", 16).epoch_batches(0)]
    assert max(sizes) == 16 and sum(s < 16 for s in sizes) <= 4  # one short tail per 512-pool


def test_epochs_differ_and_the_same_seed_repeats():
    assert stream(512).epoch_batches(0) != stream(512).epoch_batches(1)
    assert stream(512).epoch_batches(0) == stream(512).epoch_batches(0)
    assert stream(512, seed=1).epoch_batches(0) != stream(512).epoch_batches(0)


def test_state_round_trip_continues_the_same_stream_across_epochs():
    a = stream(512)
    n_per_epoch = len(a.epoch_batches(0))
    for _ in range(n_per_epoch - 3):
        next(a)
    b = stream(512)
    b.load_state_dict(a.state_dict())
    assert [next(a) for _ in range(10)] == [next(b) for _ in range(10)]  # crosses into epoch 1
    assert a.state_dict() == b.state_dict() == {"epoch": 1, "position": 7}
