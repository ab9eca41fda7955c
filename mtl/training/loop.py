"""The training loop: setup, loop, evaluate, checkpoint. One flat loop of small named steps, no framework.

Each step takes length-bucketed batches (one sampled task's, or one of every task's for the weighting
methods that need several tasks' losses) and makes one AdamW step on the losses as the configured
weighting combines them (step.py, weighting/). The realised task mix is logged per sampling window.
Every eval_every steps the dev sets are scored; the best model so far is kept in out_dir/model/ and
training stops after `patience` evaluations without a better mean dev score. Every
checkpoint_every steps everything the loop advances is saved, so resume=True continues exactly: the
resumed run ends with the same weights, bit for bit, as a run never interrupted.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from mtl.config import Params, TrainingConfig
from mtl.model.io import build_model, replace_folder, save_model
from mtl.model.model import MultiTaskModel
from mtl.model.vocab import build_vocab
from mtl.tasks import get_kind
from mtl.training import checkpoint as ckpt
from mtl.training.batching import BucketBatches
from mtl.training.data import TaskData, read_labels, read_split
from mtl.training.evaluate import dev_score, evaluate
from mtl.training.logs import EVAL_COLUMNS, MIX_COLUMNS, TRAIN_COLUMNS, CsvLog
from mtl.training.samplers import TaskMix, TaskSampler
from mtl.training.step import learning_rate, make_optimizer, next_batch, set_learning_rate, train_step
from mtl.training.weighting import Weighting, make_weighting

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    steps: int  # steps taken in all
    best_step: int  # the step of the kept model
    best_score: float  # its mean dev primary metric
    dev_metrics: dict[str, dict[str, float]]  # its per-task dev metrics
    wall_seconds: float  # summed over interrupted and resumed sessions
    stopped: str  # "max_steps", "early_stopping" or "time_limit"


# --- setup ----------------------------------------------------------------------------------------


def setup_torch(cfg: TrainingConfig) -> None:
    threads = cfg.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)  # every op the model uses has a deterministic CPU kernel
    if threads > 1 and "OMP_WAIT_POLICY" not in os.environ:
        # Measured here: with the cores shared, OpenMP threads spinning at barriers made 2 threads
        # ~10x slower than 1. The policy is read when torch loads, so it must be set before that.
        log.warning("OMP_WAIT_POLICY is not set: on a shared CPU set OMP_WAIT_POLICY=PASSIVE before "
                    "starting, or training with %d threads can crawl", threads)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fresh_state() -> dict:
    return {"step": 0, "best_score": None, "best_step": 0, "best_metrics": {}, "bad_evals": 0,
            "stopped": None, "wall_seconds": 0.0}


# --- one step -------------------------------------------------------------------------------------


def step_tasks(run: Run, step: int) -> list[str]:
    """The tasks whose batches this step trains: every task, or the one the sampler draws."""
    return list(run.train_data) if run.weighting.every_task else [run.sampler.sample(step)]


def close_mix_window(run: Run, step: int) -> None:
    """task_mix.csv rows for the window holding `step`: batches per task, their share, the expected share."""
    for row in run.mix.close(step, run.sampler.window(step), run.sampler.probabilities_at(step)):
        run.mix_log.append(*row)


def save_best(model: MultiTaskModel, out_dir: Path) -> None:
    staged = out_dir / ".model-staging"
    shutil.rmtree(staged, ignore_errors=True)
    save_model(model, staged)
    replace_folder(staged, out_dir / "model")


# --- the loop -------------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything the loop advances (a checkpoint holds all of it) and where it writes."""

    model: MultiTaskModel
    optimizer: torch.optim.Optimizer
    sampler: TaskSampler
    weighting: Weighting
    mix: TaskMix  # batches per task in the current sampling window
    streams: dict[str, BucketBatches]
    train_data: dict[str, TaskData]
    dev_data: dict[str, TaskData]
    state: dict  # step, best_score, best_step, best_metrics, bad_evals, stopped, wall_seconds
    train_log: CsvLog
    eval_log: CsvLog
    mix_log: CsvLog
    out_dir: Path
    started: float  # perf_counter() when this session began
    wall_before: float  # seconds spent by earlier sessions of the same run

    def elapsed(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def flush_logs(self) -> None:
        for csv_log in (self.train_log, self.eval_log, self.mix_log):
            csv_log.flush()


def setup(params: Params, data_dir: Path, out_dir: Path, resume: bool, started: float) -> Run:
    """Data, then model, weighting, optimizer, task sampler and batch streams: fresh, or as the last
    checkpoint left them."""
    cfg, tasks = params.training, params.tasks
    labels = read_labels(data_dir)
    train_data = read_split(data_dir, "train", tasks, labels)
    dev_data = read_split(data_dir, "dev", tasks, labels)
    folder = ckpt.latest_checkpoint(out_dir / "checkpoints") if resume else None
    if folder is not None:
        log.info("resuming from %s", folder)
        model, optimizer_tensors, state = ckpt.load_checkpoint(folder)
    else:
        for stale in ("checkpoints", "model"):
            shutil.rmtree(out_dir / stale, ignore_errors=True)
        seed_everything(cfg.seed)
        vocab = build_vocab(
            (s for d in train_data.values() for s in d.sentences),
            min_count=params.model.min_word_count,
            lowercase=params.model.lowercase,
            max_word_chars=params.model.max_word_chars,
        )
        task_labels = {name: {**labels[name], "kind": tasks[name].kind} for name in tasks}
        model = build_model(params.model, vocab, task_labels, params.model_dump(mode="json"))
        state = fresh_state()
    for data in train_data.values():
        data.encode(model.vocab)
    weighting = make_weighting(cfg, list(train_data))
    if folder is not None:
        if state.get("weighting_kind", "static") != cfg.weighting.kind:
            raise ValueError(f"{folder} was trained with weighting {state.get('weighting_kind', 'static')!r}, "
                             f"params say {cfg.weighting.kind!r}: resume with the same params, or start afresh")
        weighting.load_state_dict(state.pop("weighting_tensors"), state.get("weighting", {}))
    state["weighting_kind"] = cfg.weighting.kind
    optimizer = make_optimizer(model, cfg, weighting.parameters())
    sampler = TaskSampler({n: len(d.rows) for n, d in train_data.items()}, cfg.sampler, max_steps=cfg.max_steps,
                          seed=cfg.seed)
    mix = TaskMix(list(train_data))
    streams = {
        name: BucketBatches([len(e.words) for e in d.examples], batch_size=cfg.batch_size, unit=cfg.batch_unit,
                            pool_size=cfg.pool_size, seed=cfg.seed, name=name)
        for name, d in train_data.items()
    }
    if folder is not None:
        ckpt.load_optimizer_state(optimizer, optimizer_tensors, state.pop("optimizer"))
        sampler.load_state_dict(state["sampler"])
        if "mix" in state:  # absent in checkpoints older than task_mix.csv
            mix.load_state_dict(state["mix"])
        for name, stream in streams.items():
            stream.load_state_dict(state["batches"][name])
        ckpt.set_rng_state(state.pop("rng"), state.pop("torch_rng"))  # last: nothing may draw after it
    keep = state["step"] if folder is not None else None  # resumed: cut the logs back to the checkpoint
    return Run(model, optimizer, sampler, weighting, mix, streams, train_data, dev_data, state,
               CsvLog(out_dir / "train_log.csv", TRAIN_COLUMNS, keep_until=keep),
               CsvLog(out_dir / "eval_log.csv", EVAL_COLUMNS, keep_until=keep),
               CsvLog(out_dir / "task_mix.csv", MIX_COLUMNS, keep_until=keep),
               out_dir, started, state["wall_seconds"])


def evaluate_and_keep_best(run: Run, params: Params) -> str:
    """Score the dev sets, log them, keep the model if it is the best so far; a one-line report."""
    state, step = run.state, run.state["step"]
    metrics = evaluate(run.model, run.dev_data, params.tasks, params.training.eval_batch_size)
    score = dev_score(metrics, params.tasks)
    for name, values in metrics.items():
        for metric, value in values.items():
            run.eval_log.append(step, name, metric, f"{value:.6g}")
    run.eval_log.append(step, "mean", "score", f"{score:.6g}")
    if state["best_score"] is None or score > state["best_score"]:
        state.update(best_score=score, best_step=step, best_metrics=metrics, bad_evals=0)
        save_best(run.model, run.out_dir)
    else:
        state["bad_evals"] += 1
    run.flush_logs()
    primary = " ".join(f"{n}={v:.3f}" for n, v in _primary(metrics, params.tasks).items())
    return f"step {step}: dev score {score:.4f} (best {state['best_score']:.4f} at step {state['best_step']}) {primary}"


def save_checkpoint(run: Run) -> None:
    run.flush_logs()
    run.state["wall_seconds"] = run.elapsed()
    run.state["sampler"] = run.sampler.state_dict()
    run.state["mix"] = run.mix.state_dict()
    run.state["batches"] = {name: stream.state_dict() for name, stream in run.streams.items()}
    tensors, run.state["weighting"] = run.weighting.state_dict()
    ckpt.save_checkpoint(run.out_dir / "checkpoints", run.model, run.optimizer, run.state, tensors)


def train(params: Params, *, data_dir: Path, out_dir: Path, resume: bool = False) -> TrainResult:
    """Train on the unified dataset in data_dir; write out_dir/{model/, checkpoints/, train_log.csv,
    eval_log.csv, task_mix.csv}. resume=True continues from out_dir/checkpoints/ when there is one."""
    started = time.perf_counter()
    cfg, tasks = params.training, params.tasks
    unknown = sorted(set(cfg.loss_weights) - set(tasks))
    if unknown:
        raise ValueError(f"training.loss_weights names tasks that are not configured: {unknown}")
    setup_torch(cfg)
    run = setup(params, Path(data_dir), Path(out_dir), resume, started)
    state, kinds = run.state, {name: data.kind for name, data in run.train_data.items()}
    log.info("model: %d parameters; tasks %s; weighting %s; p(task) %s", run.model.n_parameters(), list(tasks),
             cfg.weighting.kind, {t: round(p, 3) for t, p in run.sampler.probabilities_at(state["step"] + 1).items()})
    bar = tqdm(total=cfg.max_steps, initial=state["step"], desc="train", dynamic_ncols=True,
               disable=not (cfg.progress and sys.stderr.isatty()))
    while state["stopped"] is None and state["step"] < cfg.max_steps:
        # 1. one step on one sampled task's batch, or on one batch of every task (the weighting decides)
        step = state["step"] = state["step"] + 1
        lr = learning_rate(step, cfg)
        set_learning_rate(run.optimizer, lr)
        trained = step_tasks(run, step)
        batches = {task: next_batch(run.train_data[task], run.streams[task]) for task in trained}
        losses, total, weights = train_step(run.model, run.optimizer, batches, kinds, run.weighting, cfg.clip)
        for task, loss in losses.items():
            run.train_log.append(step, task, f"{loss:.6g}", f"{lr:.6g}", f"{weights[task]:.6g}", f"{total:.6g}")
        run.mix.record(trained)
        bar.update(1)
        bar.set_postfix(task="+".join(trained), loss=f"{total:.3f}", refresh=False)

        # 2. evaluate: keep the best model, count evaluations without improvement, decide to stop
        out_of_time = cfg.max_minutes is not None and run.elapsed() > 60 * cfg.max_minutes
        if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time:
            report = evaluate_and_keep_best(run, params)
            if bar.disable:
                log.info(report)
            else:
                bar.write(report)  # above the bar, not through it
            if state["bad_evals"] >= cfg.patience:
                state["stopped"] = "early_stopping"
            elif out_of_time:
                state["stopped"] = "time_limit"
            elif step == cfg.max_steps:
                state["stopped"] = "max_steps"

        # 3. the task mix of each finished sampling window, and of the last (partial) one
        if step % cfg.sampler.window == 0 or state["stopped"] is not None:
            close_mix_window(run, step)

        # 4. checkpoint: after the evaluation, so it holds this step's best score and patience counter
        if step % cfg.checkpoint_every == 0 or state["stopped"] is not None:
            save_checkpoint(run)
    bar.close()
    log.info("training stopped (%s) at step %d after %.0f s; best dev score %.4f at step %d", state["stopped"],
             state["step"], run.elapsed(), state["best_score"], state["best_step"])
    return TrainResult(state["step"], state["best_step"], state["best_score"], state["best_metrics"],
                       run.elapsed(), state["stopped"] or "max_steps")


def _primary(metrics: dict[str, dict[str, float]], tasks) -> dict[str, float]:
    return {n: m[get_kind(tasks[n].kind).default_metric(tasks[n])] for n, m in metrics.items()}
