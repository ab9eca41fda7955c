"""The loop on a tiny synthetic multi-task dataset: it learns, it is deterministic, it stops early."""

from __future__ import annotations

import csv
import json
import logging
import math

import pytest
import torch
from safetensors.torch import load_file

from mtl.model import load_model, predict
from mtl.training import train
from mtl.training.loop import learning_rate


def weights(folder):
    return load_file(folder / "model.safetensors")


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def read_csv(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_loss_goes_down_and_outputs_are_written(tmp_path, unified_dir, tiny_params):
    params = tiny_params(max_steps=120, eval_every=40, checkpoint_every=60)
    result = train(params, data_dir=unified_dir, out_dir=tmp_path)
    rows = read_csv(tmp_path / "train_log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 121))
    for task in ("pos", "ner", "sentiment", "question"):
        losses = [float(r["loss"]) for r in rows if r["task"] == task]
        third = len(losses) // 3
        assert sum(losses[-third:]) / third < 0.7 * sum(losses[:third]) / third, task
    evals = read_csv(tmp_path / "eval_log.csv")
    assert {(r["task"], r["metric"]) for r in evals} >= {("pos", "accuracy"), ("ner", "entity_f1"),
                                                         ("sentiment", "accuracy"), ("mean", "score")}
    assert sorted({int(r["step"]) for r in evals}) == [40, 80, 120]
    assert result.steps == 120 and result.stopped == "max_steps" and result.best_step in (40, 80, 120)
    assert json.loads((tmp_path / "training.json").read_text())["stopped_reason"] == "ran its configured steps"
    assert set(result.dev_metrics) == {"pos", "ner", "sentiment", "question"}
    assert result.best_score > 0.5 and result.wall_seconds > 0
    model = load_model(tmp_path / "model")  # the best model is a plain model folder
    assert set(predict(model, [["the", "dog", "runs"]])) == {"pos", "ner", "sentiment", "question"}
    assert (tmp_path / "checkpoints" / "latest.json").exists()


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, unified_dir, tiny_params):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(tiny_params(seed=seed, max_steps=25), data_dir=unified_dir, out_dir=tmp_path / name)
        runs[name] = weights(tmp_path / name / "checkpoints" / "step-00000025")
    assert same_weights(runs["a"], runs["b"])
    assert not same_weights(runs["a"], runs["c"])


def test_early_stopping_after_patience_evaluations_without_gain(tmp_path, unified_dir, tiny_params):
    # With a learning rate this small the dev score never improves after the first evaluation.
    params = tiny_params(lr=1e-12, max_steps=100, eval_every=5, patience=2)
    result = train(params, data_dir=unified_dir, out_dir=tmp_path)
    assert result.stopped == "early_stopping" and result.steps == 15 and result.best_step == 5


def test_crf_and_loss_weights_train(tmp_path, unified_dir, tiny_params):
    params = tiny_params(max_steps=20, loss_weights={"ner": 2.0, "sentiment": 0.5})
    result = train(params, data_dir=unified_dir, out_dir=tmp_path)
    model = load_model(tmp_path / "model")
    assert result.steps == 20 and model.config.tasks["ner"].options == {"scheme": "bio", "crf": True}
    assert model.heads["ner"].crf is not None
    with pytest.raises(ValueError, match="loss_weights"):
        tiny_params(loss_weights={"parsing": 1.0})


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant"])
def test_learning_rate_warms_up_then_decays(tiny_params, schedule):
    cfg = tiny_params(lr=1.0, warmup_steps=10, max_steps=110, min_lr_ratio=0.1, schedule=schedule).training
    assert learning_rate(5, cfg) == pytest.approx(0.5) and learning_rate(10, cfg) == pytest.approx(1.0)
    end = 1.0 if schedule == "constant" else 0.1
    assert learning_rate(110, cfg) == pytest.approx(end)
    middle = {"linear": 0.55, "cosine": 0.1 + 0.45 * (1 + math.cos(math.pi / 2)), "constant": 1.0}[schedule]
    assert learning_rate(60, cfg) == pytest.approx(middle)


def test_time_limit_evaluates_checkpoints_and_stops(tmp_path, unified_dir, tiny_params, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl.training.loop"):
        result = train(tiny_params(max_minutes=1e-6), data_dir=unified_dir, out_dir=tmp_path)
    assert (result.stopped, result.steps, result.best_step) == ("time_limit", 1, 1)
    assert any("stopped by the time guard at step 1 of 40" in r.getMessage() for r in caplog.records)
    assert json.loads((tmp_path / "training.json").read_text())["stopped"] == "time_limit"
    assert (tmp_path / "checkpoints" / "step-00000001").is_dir() and (tmp_path / "model").is_dir()


def test_a_progress_line_names_the_step_rate_eta_and_last_dev_scores(tmp_path, unified_dir, tiny_params, caplog):
    with caplog.at_level(logging.INFO, logger="mtl.training.loop"):
        train(tiny_params(max_steps=20, eval_every=10, progress_seconds=1e-9), data_dir=unified_dir, out_dir=tmp_path)
    lines = [r.getMessage() for r in caplog.records if "steps/s" in r.getMessage()]
    assert len(lines) >= 19  # every step, with so short an interval
    assert lines[-1].startswith("step 20/20 (100%)") and "ETA" in lines[-1]
    assert "last dev (step 20): pos=" in lines[-1] and "question=" in lines[-1]
    assert any("training ran its configured steps at step 20 of 20" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("sharing", ["hard", "soft", "adversarial", "attention"])
def test_compile_wraps_every_encoder_and_nothing_else(sharing):
    """training.compile: each encoder is compiled in place (parameter names, so checkpoints, unchanged); heads,
    mixes and the discriminator are not. The compilation itself runs at the first step (a GPU's affair: on the
    CPU it costs more than it saves), so this checks the wiring, not the compiler."""
    from mtl.training.loop import compile_encoders
    from tests.model.conftest import tiny_model

    model = tiny_model(sharing=sharing)
    names = [name for name, _ in model.named_parameters()]
    compile_encoders(model)
    compiled = {name for name, module in model.named_modules() if getattr(module, "_compiled_call_impl", None)}
    expected = {"hard": {"encoder"}, "attention": {"encoder"}, "soft": {f"encoders.{t}" for t in model.heads},
                "adversarial": {"encoder", *(f"private.{t}" for t in model.heads)}}[sharing]
    assert compiled == expected
    assert [name for name, _ in model.named_parameters()] == names
