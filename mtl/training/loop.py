"""The training loop: setup, loop, evaluate, checkpoint. One flat loop of small named steps, no framework.

Each step takes length-bucketed batches (one sampled task's, or one of every task's for the weighting
methods that need several tasks' losses; drawn ahead by a background thread, prefetch.py) and makes one
AdamW step on the losses as the configured weighting combines them (step.py, weighting/). The realised
task mix is logged per sampling window.
Every eval_every steps the dev sets are scored; the best model so far is kept in out_dir/model/ and
training stops after `patience` evaluations without a better mean dev score. Every checkpoint_every
steps everything the loop advances is saved, so resume=True continues exactly: the resumed run ends with
the same weights, bit for bit, as a run never interrupted. A progress line is logged at least every
training.progress_seconds, and how training stopped is part of the result.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from mtl.config import Params, refuse_many_processes
from mtl.model.io import build_model, replace_folder, save_model
from mtl.model.model import MultiTaskModel
from mtl.model.vocab import build_vocab
from mtl.training import checkpoint as ckpt
from mtl.training.batching import BucketBatches
from mtl.training.data import TaskData, read_labels, read_split
from mtl.training.device import make_scaler, resolve_device, setup_threads
from mtl.training.distributed import World, barrier, broadcast, device_for, gather, join, leave, mean, same_weights
from mtl.training.evaluate import dev_score, evaluate, primary_metrics
from mtl.training.logs import EVAL_COLUMNS, MIX_COLUMNS, TRAIN_COLUMNS, CsvLog
from mtl.training.prefetch import Drawer, Prefetch
from mtl.training.samplers import TaskMix, TaskSampler
from mtl.training.step import learning_rate, make_optimizer, set_learning_rate, train_step
from mtl.training.weighting import Weighting, make_weighting

log = logging.getLogger(__name__)

STOPS = {  # how a run ends, as metrics.json, the gate report and the registry's lineage say it
    "max_steps": "ran its configured steps",
    "early_stopping": "stopped early: no better dev score in `patience` evaluations",
    "time_limit": "stopped by the time guard (training.max_minutes) before its configured steps",
}


@dataclass
class TrainResult:
    steps: int  # steps taken in all
    max_steps: int  # steps configured
    best_step: int  # the step of the kept model
    best_score: float  # its mean dev primary metric
    dev_metrics: dict[str, dict[str, float]]  # its per-task dev metrics
    wall_seconds: float  # summed over interrupted and resumed sessions
    stopped: str  # "max_steps", "early_stopping" or "time_limit" (STOPS)

    def to_dict(self) -> dict:
        return {**asdict(self), "stopped_reason": STOPS[self.stopped]}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fresh_state() -> dict:
    return {"step": 0, "best_score": None, "best_step": 0, "best_metrics": {}, "bad_evals": 0,
            "stopped": None, "wall_seconds": 0.0}


# --- the run: everything the loop advances (a checkpoint holds all of it) and where it writes ---------


@dataclass
class Run:
    model: MultiTaskModel
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None  # fp16's loss scale; None otherwise
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
    model_dir: str  # the best model's folder name in out_dir (paths.model)
    checkpoints_dir: str  # (paths.checkpoints)
    device: torch.device
    world: World  # this process's rank among the training processes (one, unless torchrun started several)
    started: float  # perf_counter() when this session began
    wall_before: float  # seconds spent by earlier sessions of the same run
    waited: float = 0.0  # seconds this session's steps waited for their batches (prefetch.py), once trained

    def elapsed(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def flush_logs(self) -> None:
        for csv_log in (self.train_log, self.eval_log, self.mix_log):
            csv_log.flush()


def setup(params: Params, data_dir: Path, out_dir: Path, resume: bool, started: float, world: World) -> Run:
    """Data, then model, weighting, optimizer, task sampler and batch streams: fresh, or as the last
    checkpoint left them. Every rank builds the same model from the same seed."""
    cfg, tasks = params.training, params.tasks
    device = device_for(world, resolve_device(cfg.device))
    labels = read_labels(data_dir / params.paths.labels)
    train_data = read_split(data_dir, "train", tasks, labels)
    dev_data = read_split(data_dir, "dev", tasks, labels)
    paths = params.paths
    folder = ckpt.latest_checkpoint(out_dir / paths.checkpoints) if resume else None
    if folder is not None:
        log.info("resuming from %s", folder)
        model, optimizer_tensors, state = ckpt.load_checkpoint(folder, world.rank)
        if state.get("world_size", 1) != world.size:
            log.warning("%s was written by %d process(es), resuming with %d: the run continues, but not bit for "
                        "bit as it would have", folder, state.get("world_size", 1), world.size)
    else:
        if world.main:
            for stale in (paths.checkpoints, paths.model):
                shutil.rmtree(out_dir / stale, ignore_errors=True)
        barrier(world)
        seed_everything(cfg.seed)
        words = params.model.words
        vocab = build_vocab((text for data in train_data.values() for texts in data.inputs for text in texts),
                            min_count=words.min_count, lowercase=words.lowercase, max_word_chars=words.max_chars)
        model = build_model(params.model, vocab, {name: labels[name] for name in tasks}, params.model_dump(mode="json"))
        if world.distributed:  # the same weights everywhere; from here each rank's own dropout masks
            torch.manual_seed(cfg.seed * 1_000_003 + world.rank)
        state = fresh_state()
    state["world_size"] = world.size
    model.to(device)
    if cfg.compile:
        compile_encoders(model)
    for data in train_data.values():
        data.encode(model.vocab)
    weighting = make_weighting(cfg, list(train_data), device)
    scaler = make_scaler(device, cfg.precision)
    if folder is not None:
        if state["weighting_kind"] != cfg.weighting.kind:
            raise ValueError(f"{folder} was trained with weighting {state['weighting_kind']!r}, params say "
                             f"{cfg.weighting.kind!r}: resume with the same params, or start afresh")
        weighting.load_state_dict(state.pop("weighting_tensors"), state["weighting"])
    state["weighting_kind"] = cfg.weighting.kind
    optimizer = make_optimizer(model, cfg, weighting.parameters())
    sampler = TaskSampler({n: len(d.rows) for n, d in train_data.items()}, cfg.sampler, max_steps=cfg.max_steps,
                          seed=cfg.seed)
    mix = TaskMix(list(train_data))
    streams = {
        name: BucketBatches(d.lengths(), batch_size=cfg.batch_size, unit=cfg.batch_unit, pool_size=cfg.pool_size,
                            seed=cfg.seed, name=name)
        for name, d in train_data.items()
    }
    if folder is not None:
        ckpt.load_optimizer_state(optimizer, optimizer_tensors, state.pop("optimizer"))
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        sampler.load_state_dict(state["sampler"])
        mix.load_state_dict(state["mix"])
        for name, stream in streams.items():
            stream.load_state_dict(state["batches"][name])
        ckpt.set_rng_state(state.pop("rng"), state.pop("torch_rng"), device)  # last: nothing may draw after it
    keep = state["step"] if folder is not None else None  # resumed: cut the logs back to the checkpoint
    return Run(model, optimizer, scaler, sampler, weighting, mix, streams, train_data, dev_data, state,
               CsvLog(out_dir / paths.train_log, TRAIN_COLUMNS, keep_until=keep),
               CsvLog(out_dir / paths.eval_log, EVAL_COLUMNS, keep_until=keep),
               CsvLog(out_dir / paths.task_mix, MIX_COLUMNS, keep_until=keep),
               out_dir, params.paths.model, params.paths.checkpoints, device, world, started, state["wall_seconds"])


def compile_encoders(model: MultiTaskModel) -> None:
    """torch.compile each encoder in place (its parameter names unchanged, so checkpoints stay the same), with
    dynamic shapes: batches vary in length."""
    for module in model.children():
        for encoder in (module.values() if isinstance(module, torch.nn.ModuleDict) else [module]):
            if hasattr(encoder, "n_layers"):  # an encoder (mtl/model/encoders), not a head or a mix
                encoder.compile(dynamic=True)


# --- one step's helpers -----------------------------------------------------------------------------


def close_mix_window(run: Run, step: int) -> None:
    """task_mix.csv rows for the window holding `step`: batches per task, their share, the expected share."""
    for row in run.mix.close(step, run.sampler.window(step), run.sampler.probabilities_at(step)):
        run.mix_log.append(*row)


def evaluate_and_keep_best(run: Run, params: Params) -> str:
    """Score the dev sets, log them, keep the model if it is the best so far; a one-line report."""
    state, step = run.state, run.state["step"]
    metrics = evaluate(run.model, run.dev_data, params.training.eval_batch_size)
    score = dev_score(metrics, params.tasks)
    for name, values in metrics.items():
        for metric, value in values.items():
            run.eval_log.append(step, name, metric, f"{value:.6g}")
    run.eval_log.append(step, "mean", "score", f"{score:.6g}")
    if state["best_score"] is None or score > state["best_score"]:
        state.update(best_score=score, best_step=step, best_metrics=metrics, bad_evals=0)
        save_best(run.model, run.out_dir / run.model_dir)
    else:
        state["bad_evals"] += 1
    run.flush_logs()
    state["last_dev"] = {"step": step, **primary_metrics(metrics, params.tasks)}
    primary = " ".join(f"{n}={v:.3f}" for n, v in primary_metrics(metrics, params.tasks).items())
    return f"step {step}: dev score {score:.4f} (best {state['best_score']:.4f} at step {state['best_step']}) {primary}"


def save_best(model: MultiTaskModel, folder: Path) -> None:
    staged = folder.with_name(f".{folder.name}-staging")
    shutil.rmtree(staged, ignore_errors=True)
    save_model(model, staged)
    replace_folder(staged, folder)


def save_checkpoint(run: Run, position: dict) -> None:
    """Rank 0 writes everything the loop advances, with every rank's generators, after checking that every
    rank holds the same weights. position: the sampler's and batch streams' state as of the batches trained so
    far (Prefetch.position), not as the batches prepared ahead left them."""
    same_weights(run.model, run.world)
    rngs = gather(ckpt.rng_state(run.device), run.world)
    if not run.world.main:
        return
    run.flush_logs()
    run.state["wall_seconds"] = run.elapsed()
    run.state["sampler"] = position["sampler"]
    run.state["mix"] = run.mix.state_dict()
    run.state["batches"] = position["batches"]
    run.state["scaler"] = run.scaler.state_dict() if run.scaler is not None else None
    tensors, run.state["weighting"] = run.weighting.state_dict()
    ckpt.save_checkpoint(run.out_dir / run.checkpoints_dir, run.model, run.optimizer, run.state, tensors, rngs)


class Progress:
    """A log line at least every `every` seconds: step, steps/s, ETA, the last dev scores per task."""

    def __init__(self, run: Run, max_steps: int, every: float) -> None:
        self.run, self.max_steps, self.every = run, max_steps, every
        self.last_time, self.last_step = time.perf_counter(), run.state["step"]

    def tick(self, force: bool = False) -> None:
        now, step = time.perf_counter(), self.run.state["step"]
        if not force and now - self.last_time < self.every:
            return
        rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
        eta = (self.max_steps - step) / rate / 60 if rate > 0 else float("inf")
        dev = self.run.state.get("last_dev")
        scores = ("; last dev (step {step}): ".format(**dev)
                  + " ".join(f"{k}={v:.3f}" for k, v in dev.items() if k != "step")) if dev else ""
        log.info("step %d/%d (%.0f%%), %.2f steps/s, ETA %.1f min, %.1f min so far%s", step, self.max_steps,
                 100 * step / self.max_steps, rate, eta, self.run.elapsed() / 60, scores)
        self.last_time, self.last_step = now, step


# --- the loop -----------------------------------------------------------------------------------------


def train(params: Params, *, data_dir: Path, out_dir: Path, resume: bool = False) -> TrainResult:
    """Train on the unified dataset in data_dir; write into out_dir the files params.paths names (model/,
    checkpoints/, train_log.csv, eval_log.csv, task_mix.csv, training.json). resume=True continues from the
    last checkpoint when there is one. Under torchrun, each process trains its share (distributed.py)."""
    started = time.perf_counter()
    cfg = params.training
    world = join()
    if world.distributed:
        refuse_many_processes(cfg.weighting.kind)
    try:
        setup_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world.size))
        run = setup(params, Path(data_dir), Path(out_dir), resume, started, world)
        result = loop(run, params)
    finally:
        leave(world)
    if world.main:
        (Path(out_dir) / params.paths.training).write_text(json.dumps(result.to_dict(), indent=2) + "\n",
                                                         encoding="utf-8")
    return result


def loop(run: Run, params: Params) -> TrainResult:
    """Train from the step after run.state["step"] to the end; the thread drawing batches ends with it."""
    cfg, state = params.training, run.state
    pin = run.device.type == "cuda"  # pinned batches: their copy to the GPU overlaps the step before
    drawer = Drawer(run.sampler, run.streams, run.train_data, every_task=run.weighting.every_task, world=run.world,
                    pin_for=run.device if pin else None)
    started = time.perf_counter()
    with Prefetch(drawer, state["step"] + 1, cfg.max_steps, cfg.prefetch) as prefetch:
        result = train_steps(run, params, prefetch)
    run.waited = prefetch.waited
    if run.world.main:
        log.info("waiting for batches: %.1f s, %.1f%% of the training steps' time (training.prefetch %d)",
                 prefetch.waited, 100 * prefetch.waited / max(time.perf_counter() - started, 1e-9), cfg.prefetch)
    return result


def train_steps(run: Run, params: Params, prefetch: Prefetch) -> TrainResult:
    cfg, state, world = params.training, run.state, run.world
    kinds = {name: data.kind for name, data in run.train_data.items()}
    pin = run.device.type == "cuda"
    if world.main:
        log.info("model: %d parameters on %s (%s%s); tasks %s; weighting %s; p(task) %s", run.model.n_parameters(),
                 run.device, cfg.precision, f", {world.size} processes" if world.distributed else "",
                 list(params.tasks), cfg.weighting.kind,
                 {t: round(p, 3) for t, p in run.sampler.probabilities_at(state["step"] + 1).items()})
    progress = Progress(run, cfg.max_steps, cfg.progress_seconds)
    while state["stopped"] is None and state["step"] < cfg.max_steps:
        # 1. one step on one sampled task's batch, or on one batch of every task (the weighting decides)
        step = state["step"] = state["step"] + 1
        lr = learning_rate(step, cfg)
        set_learning_rate(run.optimizer, lr)
        draw = prefetch.next()
        trained = draw.tasks
        batches = {task: batch.to(run.device, non_blocking=pin) for task, batch in draw.batches.items()}
        losses, total, weights = train_step(run.model, run.optimizer, batches, kinds, run.weighting, cfg.clip,
                                            cfg.precision, run.scaler, world)
        total = mean(total, world)  # over the ranks' shares, for the log
        for task, loss in losses.items():
            loss = mean(loss, world)
            if world.main:
                run.train_log.append(step, task, f"{loss:.6g}", f"{lr:.6g}", f"{weights[task]:.6g}", f"{total:.6g}")
        run.mix.record(trained)

        # 2. evaluate (rank 0): keep the best model, count evaluations without improvement, decide to stop
        out_of_time = broadcast(cfg.max_minutes is not None and run.elapsed() > 60 * cfg.max_minutes, world)
        if step % cfg.eval_every == 0 or step == cfg.max_steps or out_of_time:
            if world.main:
                log.info(evaluate_and_keep_best(run, params))
                if state["bad_evals"] >= cfg.patience:
                    state["stopped"] = "early_stopping"
                elif out_of_time:
                    state["stopped"] = "time_limit"
                elif step == cfg.max_steps:
                    state["stopped"] = "max_steps"
            state["stopped"] = broadcast(state["stopped"], world)

        # 3. the task mix of each finished sampling window, and of the last (partial) one
        if step % cfg.sampler.window == 0 or state["stopped"] is not None:
            close_mix_window(run, step)

        # 4. checkpoint: after the evaluation, so it holds this step's best score and patience counter
        if step % cfg.checkpoint_every == 0 or state["stopped"] is not None:
            save_checkpoint(run, prefetch.position)
        if world.main:
            progress.tick()
    result = TrainResult(state["step"], cfg.max_steps, state["best_step"], state["best_score"],
                         state["best_metrics"], run.elapsed(), state["stopped"] or "max_steps")
    if world.main and result.stopped == "time_limit":
        log.warning("training stopped by the time guard at step %d of %d after %.1f min (training.max_minutes "
                    "%s): the model is not the one its params describe", result.steps, cfg.max_steps,
                    result.wall_seconds / 60, cfg.max_minutes)
    if world.main:
        log.info("training %s at step %d of %d after %.0f s; best dev score %.4f at step %d",
                 STOPS[result.stopped], result.steps, cfg.max_steps, result.wall_seconds, result.best_score,
                 result.best_step)
    return result
