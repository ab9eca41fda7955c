"""Exact-resume checks shared by the sampler and weighting tests: an in-process crash + resume, compared
with a run never interrupted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mtl.config import Params
from mtl.training import loop, train
from mtl.training.checkpoint import latest_checkpoint


def interrupt_and_resume(params: Params, data_dir: Path, out_dir: Path, stop_at: int) -> None:
    """Train in out_dir, crash (an exception out of the step, like a kill) at step `stop_at`, then resume.

    In-process and lighter than test_resume.py's SIGKILL: whatever the crash leaves unsaved (buffered log
    rows, the steps since the last checkpoint) is lost just the same, and the resumed run restores the rest.
    """
    calls = {"n": 0}

    def crashing_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == stop_at:
            raise KeyboardInterrupt("simulated crash")
        return real_step(*args, **kwargs)

    real_step = loop.train_step
    loop.train_step = crashing_step
    try:
        with pytest.raises(KeyboardInterrupt):
            train(params, data_dir=data_dir, out_dir=out_dir)
    finally:
        loop.train_step = real_step
    train(params, data_dir=data_dir, out_dir=out_dir, resume=True)


def assert_same_run(a: Path, b: Path) -> None:
    """Two run folders ended identically: every weight (last checkpoint and best model), the loss weighting's
    tensors and state, and every log, bit for bit."""
    ca, cb = latest_checkpoint(a / "checkpoints"), latest_checkpoint(b / "checkpoints")
    assert ca.name == cb.name
    files = [ca / "model.safetensors", ca / "optimizer.safetensors", ca / "weighting.safetensors",
             a / "model" / "model.safetensors"]
    for file in files:
        name = file.relative_to(a)
        ta, tb = load_file(file), load_file(b / name)
        assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta), name
    sa, sb = (json.loads((c / "state.json").read_text()) for c in (ca, cb))
    assert (sa["weighting"], sa["mix"], sa["sampler"]) == (sb["weighting"], sb["mix"], sb["sampler"])
    for log in ("train_log.csv", "eval_log.csv", "task_mix.csv"):
        assert (a / log).read_text() == (b / log).read_text(), log
