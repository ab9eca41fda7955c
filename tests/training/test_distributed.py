"""Data-parallel training with real processes: `mtl train --nproc 2` runs torchrun with the gloo backend on the
CPU. Two processes with a global batch of 2b train like one process with batch 2b, every rank holds the same
weights (checked at each checkpoint, or the run fails), and a job killed with SIGKILL resumes exactly."""

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
import yaml
from safetensors.torch import load_file

from mtl.config import load_params
from mtl.training import train
from mtl.training.distributed import World, share
from tests.training.conftest import params_tasks, tiny_params, write_unified

REPO = Path(__file__).resolve().parents[2]
STEPS = 30
CLASSIFICATION = ("sentiment", "question")  # losses that are means over examples: shares average exactly


def workspace(folder: Path) -> Path:
    """A params.yaml of two classification tasks, no dropout (so the masks cannot differ), and the synthetic
    dataset beside it; returns the params file."""
    write_unified(folder / "data/unified", n_train=32, n_eval=8)
    params = tiny_params(max_steps=STEPS, eval_every=10, checkpoint_every=10, batch_size=8, threads=1)
    data = params.model_dump(mode="json", exclude={"root"})
    tasks = params_tasks()
    data["tasks"] = {name: data["tasks"][name] for name in CLASSIFICATION}
    data["corpora"] = {f"corpus_{name}": tasks["corpora"][f"corpus_{name}"] for name in CLASSIFICATION}
    data["gate"]["tasks"] = {name: data["gate"]["tasks"][name] for name in CLASSIFICATION}
    data["model"]["dropout"], data["model"]["words"]["dropout"] = 0.0, 0.0
    data["paths"].update(unified="data/unified", run="run")
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def mtl_train(params_file: Path, *args: str, wait: bool = True) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mtl.cli", "train", "--params", str(params_file), "--nproc", "2", *args]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    if wait:
        output, _ = process.communicate(timeout=240)
        assert process.returncode == 0, output[-4000:]
    return process


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    """An uninterrupted 2-process run; returns its params file."""
    params_file = workspace(tmp_path_factory.mktemp("ddp"))
    mtl_train(params_file)
    return params_file


def test_two_processes_train_like_one_with_their_summed_batch(two_processes, tmp_path):
    """Each rank takes half of the same global batch of 8 and the gradients are averaged: the mean of two means
    over 4 examples each is the mean over 8, so one process with batch 8 takes the same steps. Only the order
    of floating-point sums differs (the all-reduce adds two halves). AdamW divides by sqrt(v), which amplifies
    that rounding where second moments are near zero: after 30 steps weights agree to ~1e-4 (measured), so the
    bound is 1e-3, still 30x below one step of lr 0.03. A real mismatch (a rank's gradient left out, shares
    overlapping) moves weights by whole steps. The logged losses (the ranks' mean) agree to 1e-4 over the first
    10 steps, before the rounding has grown."""
    root = two_processes.parent
    params = load_params(two_processes)
    log = (root / "run" / "train_log.csv").read_text().splitlines()
    assert len(log) == STEPS + 1
    one = train(params, data_dir=root / "data/unified", out_dir=tmp_path / "one")
    assert one.steps == STEPS
    ddp, single = final_weights(root / "run"), final_weights(tmp_path / "one")
    assert ddp.keys() == single.keys()
    for name in ddp:
        torch.testing.assert_close(ddp[name], single[name], atol=1e-3, rtol=0)
    single_log = (tmp_path / "one" / "train_log.csv").read_text().splitlines()
    assert [line.split(",")[:2] for line in log] == [line.split(",")[:2] for line in single_log]  # same tasks
    for ours, theirs in zip(log[1:11], single_log[1:11]):
        assert float(ours.split(",")[2]) == pytest.approx(float(theirs.split(",")[2]), rel=1e-4)
    moved = max((ddp[n] - load_file(root / "run/checkpoints/step-00000020/model.safetensors")[n]).abs().max()
                for n in ddp)
    assert moved > 1e-3, "the last 10 steps moved the weights: the comparison is not between frozen models"
    losses = [float(line.split(",")[2]) for line in log[1:]]
    assert sum(losses[-6:]) < 0.7 * sum(losses[:6])
    training = json.loads((root / "run" / "training.json").read_text())
    assert training["stopped"] == "max_steps" and training["steps"] == STEPS


def test_a_killed_job_resumes_exactly(two_processes, tmp_path):
    """SIGKILL of the whole job (both ranks) after the step-10 checkpoint, then `mtl train --resume` with the
    same two processes: the same weights, bit for bit, as the run never interrupted (every rank's generators
    and the batch streams are in the checkpoint)."""
    params_file = workspace(tmp_path)
    process = mtl_train(params_file, wait=False)
    pointer = tmp_path / "run" / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 120
    while not (pointer.exists() and json.loads(pointer.read_text())["step"] >= 10):
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()[-3000:]
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "run" / "checkpoints" / f"step-{STEPS:08d}").exists(), "killed before the end"
    mtl_train(params_file, "--resume")
    straight = final_weights(two_processes.parent / "run")
    resumed = final_weights(tmp_path / "run")
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)


def test_each_rank_takes_its_own_contiguous_share():
    batch = list(range(7))
    shares = [share(batch, World(rank, 3)) for rank in range(3)]
    assert shares == [[0, 1, 2], [3, 4], [5, 6]]
    assert share([4, 9], World(1, 3)) == [4, 9], "fewer examples than ranks: every rank steps on the whole batch"
    assert share(batch, World()) == batch


def test_weightings_that_need_the_whole_batch_refuse_many_processes():
    with pytest.raises(ValueError, match="weighting 'pcgrad' needs every task's whole-batch gradients"):
        tiny_params(processes=2, weighting={"kind": "pcgrad"})
    assert tiny_params(processes=2, weighting={"kind": "uncertainty"}).training.processes == 2
