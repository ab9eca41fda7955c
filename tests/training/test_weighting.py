"""Loss weighting: the default (static) loop is the plain algorithm bit for bit (both computed here); each
method's core math; each method trains end to end on the tiny dataset, lowers its objective, and resumes
exactly after a crash."""

from __future__ import annotations

import csv
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file
from torch import nn

from mtl.config import TrainingConfig
from mtl.model import build_model, build_vocab
from mtl.tasks import get_kind
from mtl.training import train
from mtl.training.batching import BucketBatches
from mtl.training.data import read_labels, read_split
from mtl.training.loop import seed_everything
from mtl.training.samplers import TaskSampler
from mtl.training.step import learning_rate, make_optimizer, next_batch, set_learning_rate
from mtl.training.weighting import METHODS, make_weighting
from mtl.training.weighting.dwa import dwa_weights
from mtl.training.weighting.gradnorm import gradnorm_weight_grad
from mtl.training.weighting.pcgrad import pcgrad_project
from tests.training.resuming import assert_same_run, interrupt_and_resume

TASKS = ["pos", "ner", "sentiment", "question"]
DYNAMIC = ["uncertainty", "dwa", "gradnorm", "pcgrad"]


def read_rows(path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# --- the default is the plain algorithm ------------------------------------------------------------


def plain_static_run(params, data_dir, steps: int) -> dict[str, torch.Tensor]:
    """The default (static, one sampled task per step) training written out plainly, as the loop was before
    samplers and weighting methods: seed, build, then per step draw a task, take its batch, backward
    lambda * loss, clip, AdamW. The loop's own helpers build the pieces; only the orchestration is new here."""
    cfg = params.training
    labels = read_labels(data_dir / "labels.json")
    data = read_split(data_dir, "train", params.tasks, labels)
    seed_everything(cfg.seed)
    words = params.model.words
    vocab = build_vocab((text for d in data.values() for texts in d.inputs for text in texts),
                        min_count=words.min_count, lowercase=words.lowercase, max_word_chars=words.max_chars)
    model = build_model(params.model, vocab, {name: labels[name] for name in params.tasks},
                        params.model_dump(mode="json"))
    for d in data.values():
        d.encode(model.vocab)
    optimizer = make_optimizer(model, cfg)
    sampler = TaskSampler({n: len(d.rows) for n, d in data.items()}, cfg.sampler, max_steps=cfg.max_steps,
                          seed=cfg.seed)
    streams = {n: BucketBatches(d.lengths(), batch_size=cfg.batch_size, unit=cfg.batch_unit, pool_size=cfg.pool_size,
                                seed=cfg.seed, name=n) for n, d in data.items()}
    for step in range(1, steps + 1):
        set_learning_rate(optimizer, learning_rate(step, cfg))
        task = sampler.sample(step)
        batch = next_batch(data[task], streams[task])
        model.train()
        loss = cfg.loss_weights.get(task, 1.0) * get_kind(data[task].kind).loss(model(batch, [task])[task], batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
    return model.state_dict()


@pytest.mark.parametrize("case", ["default", "lambda"])
def test_the_default_static_loop_is_the_plain_algorithm_bit_for_bit(tmp_path, unified_dir, tiny_params, case):
    """Samplers, weighting methods, devices and progress lines went into the loop; with the defaults it must
    still be exactly the plain algorithm. Both run here, on this machine, so equality is exact: same ops in
    the same order give the same bits on any one CPU (no constant from another machine is compared)."""
    loss_weights = {"ner": 2.0, "sentiment": 0.5} if case == "lambda" else {}
    params = tiny_params(max_steps=30, eval_every=30, checkpoint_every=30, loss_weights=loss_weights)
    assert params.training.weighting.kind == "static" and params.training.sampler.kind == "uniform"
    train(params, data_dir=unified_dir, out_dir=tmp_path)
    looped = load_file(tmp_path / "checkpoints" / "step-00000030" / "model.safetensors")
    plain = plain_static_run(params, unified_dir, 30)
    assert looped.keys() == plain.keys()
    assert all(torch.equal(looped[name], plain[name]) for name in plain)
    first = load_file(next((tmp_path / "checkpoints").glob("step-*")) / "model.safetensors")
    assert any(not torch.equal(first[name], build_fresh(params, unified_dir)[name]) for name in first), \
        "30 steps moved the weights (the comparison above is not between two untrained models)"


def build_fresh(params, data_dir) -> dict[str, torch.Tensor]:
    labels = read_labels(data_dir / "labels.json")
    data = read_split(data_dir, "train", params.tasks, labels)
    seed_everything(params.training.seed)
    words = params.model.words
    vocab = build_vocab((text for d in data.values() for texts in d.inputs for text in texts),
                        min_count=words.min_count, lowercase=words.lowercase, max_word_chars=words.max_chars)
    return build_model(params.model, vocab, {name: labels[name] for name in params.tasks}).state_dict()


# --- the core math of each method -----------------------------------------------------------------


def test_pcgrad_projects_a_conflicting_pair_to_a_non_negative_dot_product():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])  # g1 . g2 = -1: conflict
    p1, p2 = pcgrad_project([g1, g2], np.random.default_rng(0))
    assert torch.dot(p1, g2) >= -1e-7 and torch.dot(p2, g1) >= -1e-7
    assert torch.allclose(p1, torch.tensor([0.5, 0.5])) and torch.allclose(p2, torch.tensor([0.0, 1.0]))
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])  # no conflict: untouched
    assert all(torch.equal(x, y) for x, y in zip(pcgrad_project([a, b], np.random.default_rng(0)), [a, b]))


def test_dwa_weights_from_a_loss_history():
    last, before = [0.5, 0.9, 1.0], [1.0, 1.0, 1.0]  # task 0 fell fastest, task 2 not at all
    weights = dwa_weights(last, before, temperature=2.0)
    e = [math.exp(r / 2.0) for r in (0.5, 0.9, 1.0)]
    assert weights == pytest.approx([3 * x / sum(e) for x in e]) and sum(weights) == pytest.approx(3)
    assert weights[0] < weights[1] < weights[2]
    # Through the method: windows 1 and 2 weigh 1; window 3 weighs by the rates of windows 2 over 1.
    dwa = make_weighting(TrainingConfig(weighting={"kind": "dwa", "window": 2, "temperature": 2.0}), ["a", "b"])
    history = [(4.0, 2.0), (4.0, 2.0), (1.0, 2.0), (3.0, 2.0), (9.0, 9.0)]  # window means: (4, 2), (2, 2)
    used = []
    for a, b in history:
        losses = {"a": torch.tensor(a, requires_grad=True), "b": torch.tensor(b, requires_grad=True)}
        used.append(dwa.backward(losses, model=None)[1])
    assert used[:4] == [{"a": 1.0, "b": 1.0}] * 4
    assert list(used[4].values()) == pytest.approx(dwa_weights([2.0, 2.0], [4.0, 2.0], 2.0))


def test_uncertainty_gradient_on_the_log_variance():
    method = make_weighting(TrainingConfig(weighting={"kind": "uncertainty"}), ["a", "b"])
    with torch.no_grad():
        method.log_var.copy_(torch.tensor([0.0, 1.0]))
    loss_a, loss_b = torch.tensor(2.0, requires_grad=True), torch.tensor(0.25, requires_grad=True)
    total, weights = method.backward({"a": loss_a, "b": loss_b}, model=None)
    s, losses = torch.tensor([0.0, 1.0]), torch.tensor([2.0, 0.25])
    assert torch.allclose(method.log_var.grad, 0.5 - torch.exp(-s) * losses)  # d/ds [exp(-s) L + s/2]
    assert loss_b.grad == pytest.approx(math.exp(-1.0)) and weights["b"] == pytest.approx(math.exp(-1.0))
    assert total == pytest.approx(2.0 + math.exp(-1.0) * 0.25 + 0.5)
    # a task with a large loss pushes its log-variance up (its weight down), a small one the other way
    assert method.log_var.grad[0] < 0 < method.log_var.grad[1]


def test_gradnorm_moves_the_weights_toward_balanced_gradient_norms():
    grad = gradnorm_weight_grad(torch.ones(2), torch.tensor([10.0, 1.0]), torch.ones(2), alpha=1.5)
    assert grad[0] > 0 > grad[1]  # the task with the larger gradient loses weight
    # Through the method: a shared layer, two tasks whose gradient norms differ tenfold.
    torch.manual_seed(0)
    layer = nn.Linear(3, 3)
    model = SimpleNamespace(encoder=layer, last_shared_parameters=layer.parameters)
    x = torch.randn(8, 3)
    method = make_weighting(TrainingConfig(weighting={"kind": "gradnorm", "alpha": 1.5}), ["big", "small"])
    optimizer = torch.optim.Adam(method.parameters(), lr=0.02)

    def imbalance() -> float:
        norms = [10.0, 1.0]  # ||grad_W L_t||: L_big = 10 L_small
        g = [w * n for w, n in zip(method.weights.tolist(), norms)]
        return abs(g[0] - g[1]) / (sum(g) / 2)

    before = imbalance()
    for _ in range(200):
        model.encoder.zero_grad()
        states = model.encoder(x)
        method.backward({"big": 10 * states.pow(2).mean(), "small": states.pow(2).mean()}, model)
        optimizer.step()
        method.after_step()
    w = method.weights.detach()
    assert w.sum() == pytest.approx(2.0) and w[0] < 1 < w[1]
    assert imbalance() < 0.1 * before  # balanced: w_big / w_small -> 1/10


# --- end to end, and exact resume -----------------------------------------------------------------


@pytest.mark.parametrize("kind", DYNAMIC)
def test_each_method_trains_lowers_its_objective_and_resumes_exactly(tmp_path, unified_dir, tiny_params, kind):
    # dwa window 3: the checkpoint of step 20, which the crash at step 26 resumes from, is mid-window
    params = tiny_params(max_steps=40, eval_every=15, checkpoint_every=10, weighting={"kind": kind, "window": 3})
    straight = train(params, data_dir=unified_dir, out_dir=tmp_path / "straight")
    rows = read_rows(tmp_path / "straight" / "train_log.csv")
    assert [int(r["step"]) for r in rows] == [s for s in range(1, 41) for _ in TASKS]  # every task, every step
    assert [r["task"] for r in rows[:4]] == TASKS
    totals = [float(r["total"]) for r in rows[:: len(TASKS)]]
    assert sum(totals[-10:]) < 0.7 * sum(totals[:10]), totals
    assert straight.best_score > 0.5
    final = {r["task"]: float(r["weight"]) for r in rows[-4:]}
    if kind in ("dwa", "gradnorm"):
        assert sum(final.values()) == pytest.approx(4, abs=1e-4) and len(set(final.values())) > 1
    if kind == "uncertainty":  # learned, and kept in the checkpoint
        log_var = load_file(tmp_path / "straight" / "checkpoints" / "step-00000040" / "weighting.safetensors")
        assert log_var["log_var"].abs().min() > 0

    interrupt_and_resume(params, unified_dir, tmp_path / "interrupted", stop_at=26)
    assert_same_run(tmp_path / "interrupted", tmp_path / "straight")


def test_configuration_mistakes_are_errors(tmp_path, unified_dir, tiny_params):
    assert set(METHODS) == {"static", "uncertainty", "dwa", "gradnorm", "pcgrad"}
    with pytest.raises(ValidationError, match="leave loss_weights empty"):
        tiny_params(weighting={"kind": "uncertainty"}, loss_weights={"ner": 2.0})
    tiny_params(weighting={"kind": "pcgrad"}, loss_weights={"ner": 2.0})  # λ then projection: fine
    train(tiny_params(max_steps=4, eval_every=4), data_dir=unified_dir, out_dir=tmp_path)
    with pytest.raises(ValueError, match="trained with weighting 'static'"):
        train(tiny_params(max_steps=8, eval_every=4, weighting={"kind": "dwa"}), data_dir=unified_dir,
              out_dir=tmp_path, resume=True)
