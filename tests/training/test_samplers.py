"""Task samplers realise their distributions, the annealed schedule moves as documented, explicit
probabilities are validated, the realised mix is logged per window, and everything resumes exactly."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from pydantic import ValidationError

from mtl.config import SamplerConfig, TrainingConfig
from mtl.training import train
from mtl.training.samplers import TaskSampler, annealed_temperature, task_probabilities

from tests.training.resuming import assert_same_run, interrupt_and_resume

SIZES = {"pos": 12_500, "ner": 3_400, "sentiment": 67_000, "question": 4_900}
EXPLICIT = {"pos": 0.4, "ner": 0.3, "sentiment": 0.1, "question": 0.2}


def sampler(kind: str, max_steps: int = 20_000, seed: int = 1, **cfg) -> TaskSampler:
    if kind == "explicit":
        cfg.setdefault("probabilities", EXPLICIT)
    return TaskSampler(SIZES, SamplerConfig(kind=kind, **cfg), max_steps=max_steps, seed=seed)


def test_probabilities():
    proportional = task_probabilities(SIZES, "proportional")
    assert proportional["sentiment"] == pytest.approx(67_000 / sum(SIZES.values()))
    assert task_probabilities(SIZES, "temperature", 1.0) == pytest.approx(proportional)
    t2 = task_probabilities(SIZES, "temperature", 2.0)
    assert t2["ner"] / t2["sentiment"] == pytest.approx((3_400 / 67_000) ** 0.5)
    assert task_probabilities(SIZES, "uniform") == pytest.approx({t: 0.25 for t in SIZES})
    assert task_probabilities(SIZES, "temperature", 1e6) == pytest.approx({t: 0.25 for t in SIZES}, abs=1e-4)
    assert task_probabilities(SIZES, "explicit", probabilities=EXPLICIT) == pytest.approx(EXPLICIT)
    with pytest.raises(ValueError, match="sampler kind"):
        task_probabilities(SIZES, "bogus")


@pytest.mark.parametrize("kind", ["proportional", "temperature", "uniform", "explicit", "annealed"])
def test_each_sampler_realises_its_distribution(kind):
    # annealed: 4 windows of 5,000 steps, each realising its own distribution
    s = sampler(kind, temperature=2.0, window=5_000)
    counts: dict[int, Counter] = {}
    for step in range(1, 20_001):
        counts.setdefault(s.window(step), Counter())[s.sample(step)] += 1
    assert sorted(counts) == [1, 2, 3, 4]
    for window, c in counts.items():
        expected = s.probabilities_at(window * 5_000)
        for task, p in expected.items():
            assert c[task] / 5_000 == pytest.approx(p, abs=0.02), (window, task)


def test_the_annealed_schedule_moves_as_documented():
    # Stickland & Murray: alpha = 1 - 0.8 (e-1)/(E-1), p ~ n^alpha; T = 1/alpha goes 1 -> 5 over E windows.
    s = sampler("annealed", max_steps=1_000, window=100, anneal_from=1.0, anneal_to=5.0)
    assert s.n_windows == 10
    assert s.probabilities_at(1) == pytest.approx(task_probabilities(SIZES, "proportional"))
    assert s.probabilities_at(1_000) == pytest.approx(task_probabilities(SIZES, "temperature", 5.0))
    for e in range(1, 11):
        alpha = 1 - 0.8 * (e - 1) / 9
        p = s.probabilities_at(100 * e)  # the last step of window e; its first step agrees
        assert p == s.probabilities_at(100 * (e - 1) + 1)
        assert p["ner"] / p["sentiment"] == pytest.approx((3_400 / 67_000) ** alpha)
    shares = [s.probabilities_at(100 * e)["sentiment"] for e in range(1, 11)]
    assert shares == sorted(shares, reverse=True)  # the big task's share falls window by window
    assert s.probabilities_at(5_000) == s.probabilities_at(1_000)  # past the end: the last window's
    assert annealed_temperature(1, 1, 1.0, 5.0) == 1.0  # a run of one window stays at the start


def test_explicit_probabilities_are_validated():
    def make(**cfg):
        return SamplerConfig(kind="explicit", **cfg)

    make(probabilities=EXPLICIT)
    with pytest.raises(ValidationError, match="sum to 1"):
        make(probabilities={**EXPLICIT, "pos": 0.5})
    with pytest.raises(ValidationError, match="> 0"):
        make(probabilities={**EXPLICIT, "pos": 0.0, "ner": 0.7})
    with pytest.raises(ValidationError, match="needs probabilities"):
        make()
    with pytest.raises(ValidationError, match="for kind explicit"):
        SamplerConfig(kind="uniform", probabilities=EXPLICIT)
    with pytest.raises(ValueError, match="missing \\['pos'\\]"):  # must cover the tasks...
        sampler("explicit", probabilities={"ner": 0.5, "sentiment": 0.25, "question": 0.25})
    with pytest.raises(ValueError, match="unknown \\['parsing'\\]"):  # ...and name no other
        sampler("explicit", probabilities={**EXPLICIT, "pos": 0.3, "parsing": 0.1})
    with pytest.raises(ValidationError, match="sampler must be uniform"):  # all-task steps mix uniformly
        TrainingConfig(sampler={"kind": "temperature"}, weighting={"kind": "dwa"})


def test_state_round_trips_through_json():
    a = sampler("annealed", max_steps=300, seed=7, window=100)
    [a.sample(step) for step in range(1, 124)]
    b = sampler("annealed", max_steps=300, seed=99, window=100)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert [a.sample(step) for step in range(124, 300)] == [b.sample(step) for step in range(124, 300)]


@pytest.mark.parametrize("kind", ["explicit", "annealed"])
def test_the_realised_mix_is_written_per_window(tmp_path, unified_dir, tiny_params, kind):
    cfg = {"kind": kind, "window": 10, **({"probabilities": EXPLICIT} if kind == "explicit" else {})}
    train(tiny_params(max_steps=25, sampler=cfg), data_dir=unified_dir, out_dir=tmp_path)
    with (tmp_path / "task_mix.csv").open(newline="") as f:
        mix = list(csv.DictReader(f))
    with (tmp_path / "train_log.csv").open(newline="") as f:
        trained = [(int(r["step"]), r["task"]) for r in csv.DictReader(f)]
    s = TaskSampler({t: 48 for t in SIZES}, SamplerConfig(**cfg), max_steps=25)
    assert [(r["step"], r["window"]) for r in mix[::4]] == [("10", "1"), ("20", "2"), ("25", "3")]  # 3: partial
    for row in mix:
        step, window = int(row["step"]), int(row["window"])
        in_window = [task for s_, task in trained if (window - 1) * 10 < s_ <= step]
        assert int(row["batches"]) == in_window.count(row["task"])
        assert float(row["fraction"]) == pytest.approx(in_window.count(row["task"]) / len(in_window), abs=1e-6)
        assert float(row["expected"]) == pytest.approx(s.probabilities_at(step)[row["task"]], abs=1e-6)


@pytest.mark.parametrize("kind", ["proportional", "temperature", "uniform", "annealed", "explicit"])
def test_each_sampler_trains_the_loss_down_and_resumes_exactly(tmp_path, unified_dir, tiny_params, kind):
    cfg = {"kind": kind, "window": 7, **({"probabilities": EXPLICIT} if kind == "explicit" else {})}
    params = tiny_params(max_steps=40, eval_every=15, checkpoint_every=10, sampler=cfg)
    interrupt_and_resume(params, unified_dir, tmp_path / "interrupted", stop_at=26)
    train(params, data_dir=unified_dir, out_dir=tmp_path / "straight")
    assert_same_run(tmp_path / "interrupted", tmp_path / "straight")

    losses: dict[str, list[float]] = {}  # per task: their scales differ
    with (tmp_path / "straight" / "train_log.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            losses.setdefault(row["task"], []).append(float(row["loss"]))
    trained = [values for values in losses.values() if len(values) >= 6]
    assert len(trained) >= 3, {task: len(values) for task, values in losses.items()}
    first, last = (sum(sum(values[part]) / 3 for values in trained) for part in (slice(3), slice(-3, None)))
    assert last < 0.9 * first, (kind, losses)
