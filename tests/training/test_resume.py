"""The key property: a run killed with SIGKILL and resumed ends bit-identical to one never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mtl.training import train
from mtl.training.checkpoint import latest_checkpoint

RUN = """
import sys
from pathlib import Path
from mtl.config import Params
from mtl.training import train
params = Params.model_validate_json(Path(sys.argv[1]).read_text())
train(params, data_dir=Path(sys.argv[2]), out_dir=Path(sys.argv[3]))
"""
REPO = Path(__file__).resolve().parents[2]


def kill_after_checkpoint(params_file: Path, data_dir: Path, out_dir: Path, min_step: int) -> int:
    """Start a training subprocess, SIGKILL it once a checkpoint of step >= min_step exists; that step."""
    process = subprocess.Popen([sys.executable, "-c", RUN, str(params_file), str(data_dir), str(out_dir)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pointer = out_dir / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if pointer.exists() and json.loads(pointer.read_text())["step"] >= min_step:
                break
            time.sleep(0.005)
        assert process.poll() is None, f"training ended before it could be killed: {process.stderr.read()[-2000:]}"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return json.loads(pointer.read_text())["step"]


def final_weights(out_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(out_dir / "checkpoints") / "model.safetensors")


@pytest.mark.parametrize("weighting,max_steps", [("static", 200), ("gradnorm", 80)])
def test_sigkill_then_resume_ends_exactly_like_an_uninterrupted_run(tmp_path, unified_dir, tiny_params, weighting,
                                                                     max_steps):
    # gradnorm: the most state of the weighting methods (a learned tensor, its AdamW moments, L(0) in JSON);
    # each is resumed in-process in test_weighting.py, this one also across a real SIGKILL.
    params = tiny_params(max_steps=max_steps, eval_every=15, checkpoint_every=10, weighting={"kind": weighting})
    params_file = tmp_path / "params.json"
    params_file.write_text(params.model_dump_json())

    killed_at = kill_after_checkpoint(params_file, unified_dir, tmp_path / "killed", min_step=30)
    assert 30 <= killed_at < max_steps
    resumed = train(params, data_dir=unified_dir, out_dir=tmp_path / "killed", resume=True)
    straight = train(params, data_dir=unified_dir, out_dir=tmp_path / "straight")

    a, b = final_weights(tmp_path / "killed"), final_weights(tmp_path / "straight")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    best_a, best_b = (load_file(tmp_path / run / "model" / "model.safetensors") for run in ("killed", "straight"))
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)
    wa, wb = (load_file(latest_checkpoint(tmp_path / run / "checkpoints") / "weighting.safetensors")
              for run in ("killed", "straight"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    for log in ("train_log.csv", "eval_log.csv", "task_mix.csv"):  # replayed steps are logged once, same values
        assert (tmp_path / "killed" / log).read_text() == (tmp_path / "straight" / log).read_text()
    assert (resumed.steps, resumed.best_step, resumed.best_score, resumed.dev_metrics, resumed.stopped) == (
        straight.steps, straight.best_step, straight.best_score, straight.dev_metrics, straight.stopped)


def test_resuming_a_finished_run_changes_nothing(tmp_path, unified_dir, tiny_params):
    params = tiny_params(max_steps=12, eval_every=6, checkpoint_every=6)
    first = train(params, data_dir=unified_dir, out_dir=tmp_path)
    before = final_weights(tmp_path)
    again = train(params, data_dir=unified_dir, out_dir=tmp_path, resume=True)
    assert (again.steps, again.best_score) == (first.steps, first.best_score)
    after = final_weights(tmp_path)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_resume_without_a_checkpoint_starts_fresh(tmp_path, unified_dir, tiny_params):
    result = train(tiny_params(max_steps=6, eval_every=3), data_dir=unified_dir, out_dir=tmp_path, resume=True)
    assert result.steps == 6
