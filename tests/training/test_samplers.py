"""Task samplers realise their distributions and resume from their state."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from mtl.training.samplers import TaskSampler, task_probabilities

SIZES = {"pos": 12_500, "ner": 3_400, "sentiment": 67_000, "question": 4_900}


def test_probabilities():
    proportional = task_probabilities(SIZES, "proportional")
    assert proportional["sentiment"] == pytest.approx(67_000 / sum(SIZES.values()))
    assert task_probabilities(SIZES, "temperature", 1.0) == pytest.approx(proportional)
    t2 = task_probabilities(SIZES, "temperature", 2.0)
    assert t2["ner"] / t2["sentiment"] == pytest.approx((3_400 / 67_000) ** 0.5)
    assert task_probabilities(SIZES, "uniform") == pytest.approx({t: 0.25 for t in SIZES})
    assert task_probabilities(SIZES, "temperature", 1e6) == pytest.approx({t: 0.25 for t in SIZES}, abs=1e-4)
    with pytest.raises(ValueError, match="sampler kind"):
        task_probabilities(SIZES, "annealed")


@pytest.mark.parametrize("kind", ["proportional", "temperature", "uniform"])
def test_each_sampler_realises_its_distribution(kind):
    sampler = TaskSampler(SIZES, kind, temperature=2.0, seed=1)
    n = 20_000
    counts = Counter(sampler.sample() for _ in range(n))
    for task, p in sampler.probabilities.items():
        assert counts[task] / n == pytest.approx(p, abs=0.015)


def test_state_round_trips_through_json():
    a = TaskSampler(SIZES, seed=7)
    [a.sample() for _ in range(123)]
    b = TaskSampler(SIZES, seed=99)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert [a.sample() for _ in range(200)] == [b.sample() for _ in range(200)]
