"""Single-task baselines: for each task, the same encoder, params and training loop with that task alone.

What "the same budget" means is params' baseline.budget:

    steps     every single-task model trains with training.max_steps (and the same max_minutes and early
              stopping) as the multi-task model had for all of its tasks. This is the recipe one would use
              to train the task alone, so it is the stronger baseline; N models cost N times the compute.
    examples  every single-task model trains for the steps the multi-task run's sampler plans for its task
              (sum over steps of p(task); max_steps when a weighting takes every task's batch each step).
              Batches are the same size, so both models see as many of the task's examples: the
              comparison isolates what the other tasks' data and the shared encoder add.

The planned share, not the realised one (task_mix.csv): it depends only on params and the train sizes,
so the baseline stage need not wait for the multi-task run. An early-stopped multi-task run saw fewer.

train() is reused unchanged: it builds heads for params.tasks only, so a params copy that names one task
gives a model with exactly one head, although labels.json lists every task. The copy drops what names
the other tasks (their corpora, gate rows, loss weights, explicit sampler shares) and trains with static
weighting and hard sharing: a single task has no losses to weigh and no one to share with, so its model
is the encoder and its head (a soft or adversarial scheme would add encoders or a one-class discriminator).
Each model lands in <run>/baselines/<task>/ (model/, the training logs, training.json); its checkpoints
are removed once it has finished.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from mtl.config import Params
from mtl.training import TrainResult, train
from mtl.training.samplers import TaskSampler

log = logging.getLogger(__name__)


def baseline_dir(params: Params, task: str) -> Path:
    return params.run_dir / params.paths.baselines / task


def planned_steps(params: Params, train_sizes: dict[str, int]) -> dict[str, int]:
    """Per task, the steps of the multi-task run that train it, as its sampler plans them."""
    cfg = params.training
    sizes = {name: train_sizes.get(name, 0) for name in params.tasks}
    if cfg.weighting.kind != "static":  # every step takes a batch of every task
        return dict.fromkeys(sizes, cfg.max_steps)
    sampler = TaskSampler(sizes, cfg.sampler, max_steps=cfg.max_steps, seed=cfg.seed)
    expected = dict.fromkeys(sizes, 0.0)
    for window in range(1, sampler.n_windows + 1):
        first, last = (window - 1) * cfg.sampler.window + 1, min(window * cfg.sampler.window, cfg.max_steps)
        for name, p in sampler.probabilities_at(first).items():
            expected[name] += p * (last - first + 1)
    return {name: max(1, round(steps)) for name, steps in expected.items()}


def single_task_params(params: Params, task: str, max_steps: int) -> Params:
    """params for training `task` alone for max_steps steps; every other knob as it was."""
    if task not in params.tasks:
        raise ValueError(f"unknown task {task!r}; configured: {sorted(params.tasks)}")
    data = params.model_dump(mode="python")
    data["tasks"] = {task: data["tasks"][task]}
    data["corpora"] = {name: c for name, c in data["corpora"].items() if c["task"] == task}
    data["gate"]["tasks"] = {name: g for name, g in data["gate"]["tasks"].items() if name == task}
    data["model"]["sharing"] = "hard"  # one task shares with no one: its encoder and its head, nothing else
    training = data["training"]
    training["max_steps"] = max_steps
    training["loss_weights"] = {}
    training["weighting"]["kind"] = "static"
    if training["sampler"]["kind"] == "explicit":
        training["sampler"]["probabilities"] = {task: 1.0}
    return Params.model_validate(data)


def train_sizes(data_dir: Path) -> dict[str, int]:
    """Training examples per task in the unified dataset."""
    return dict(Counter(pq.read_table(data_dir / "train.parquet", columns=["task"]).column("task").to_pylist()))


def train_baseline(params: Params, task: str) -> TrainResult:
    """Train the single-task baseline of `task` into <run>/baselines/<task>/ under params.baseline.budget."""
    if params.baseline.budget == "examples":
        max_steps = planned_steps(params, train_sizes(params.unified_dir))[task]
    else:
        max_steps = params.training.max_steps
    single = single_task_params(params, task, max_steps)
    out_dir = baseline_dir(params, task)
    log.info("baseline %s: %d steps (budget %s)", task, max_steps, params.baseline.budget)
    result = train(single, data_dir=params.unified_dir, out_dir=out_dir, resume=False)
    shutil.rmtree(params.run_file("checkpoints", out_dir), ignore_errors=True)  # resume state: the model is kept
    return result


def train_baselines(params: Params, tasks: list[str] | None = None) -> dict[str, TrainResult]:
    """One single-task model per task (default: every configured task), in params order."""
    names = list(params.tasks) if not tasks else list(tasks)
    unknown = [name for name in names if name not in params.tasks]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; configured: {sorted(params.tasks)}")
    return {name: train_baseline(params, name) for name in names}
