"""Training throughput, side by side in one run: the real loop against the bare model step, 1 thread against 2,
batches prepared ahead by a thread (training.prefetch) against drawn in the loop, fp32 against bf16, 1 process of
2 threads against 2 processes of 1 thread (torchrun, gloo), bucketed against shuffled batches; and prediction.

    .venv/bin/python bench/training.py [--params params.yaml] [--steps 60] [--skip-ddp]

"loop": the real training loop (mtl/training/loop.py: task sampling, batching, the step, logs; its evaluation
given two dev examples per task so it costs nothing). "bare step": forward, backward, clip and AdamW on batches
built beforehand, the same batches in the same order. tokens/s counts real tokens, not padding. "Step time
outside the model": within one run of the loop, the time between one step's train_step (forward, backward,
AdamW) and the next one's, over the time from the first's start to the last's (batches, their copy, logs; the
setup and the final evaluation and checkpoint left out), so a load that changes between runs does not enter it.
"waiting for batches": the loop's own count of the time its steps spent getting their batches (drawing them,
with prefetch 0; waiting for the thread, with prefetch on), over the loop's time. Needs the unified dataset
(`dvc repro unify`). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads; see mtl/training/device.py

import torch  # noqa: E402
from torch import nn  # noqa: E402

from mtl.config import Params, load_params  # noqa: E402
from mtl.model import predict  # noqa: E402
from mtl.tasks import get_kind  # noqa: E402
from mtl.training import loop as training_loop  # noqa: E402
from mtl.training.batching import padding_fraction  # noqa: E402
from mtl.training.device import autocast  # noqa: E402
from mtl.training.distributed import World, join, leave  # noqa: E402
from mtl.training.step import next_batch  # noqa: E402


def with_training(params: Params, **changes) -> Params:
    data = params.model_dump(mode="python")
    data["training"].update(changes)
    return Params.model_validate(data)


def prepared_run(params: Params, out_dir: Path, world: World = World()) -> training_loop.Run:
    """The loop's own setup, with two dev examples per task (the loop's evaluation then costs nothing)."""
    run = training_loop.setup(params, params.unified_dir, out_dir, False, time.perf_counter(), world)
    for data in run.dev_data.values():
        data.rows = data.rows[:2]
    return run


def time_loop(params: Params, steps: int, threads: int, prefetch: int) -> tuple[float, float, float]:
    """(real tokens/s, share of the step time outside the model, share spent waiting for batches) of the real
    loop with `prefetch` steps' batches prepared ahead."""
    torch.set_num_threads(threads)
    params = with_training(params, max_steps=steps, eval_every=steps, checkpoint_every=steps, max_minutes=None,
                           progress_seconds=3600, prefetch=prefetch)
    with tempfile.TemporaryDirectory() as out:
        run = prepared_run(params, Path(out))
        streams = copy.deepcopy(run.streams)  # count the tokens of the batches the loop is going to take
        sampler = copy.deepcopy(run.sampler)
        tokens = sum(next_batch(run.train_data[t], streams[t]).n_tokens
                     for t in (sampler.sample(step) for step in range(1, steps + 1)))
        spans: list[tuple[float, float]] = []  # (start, end) of each step's train_step
        real_step = training_loop.train_step

        def timed_step(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return real_step(*args, **kwargs)
            finally:
                spans.append((begun, time.perf_counter()))

        training_loop.train_step = timed_step
        try:
            start = time.perf_counter()
            training_loop.loop(run, params)
            loop_seconds = time.perf_counter() - start
        finally:
            training_loop.train_step = real_step
    outside = sum(after[0] - before[1] for before, after in zip(spans, spans[1:]))
    return tokens / loop_seconds, outside / (spans[-1][1] - spans[0][0]), run.waited / loop_seconds


def time_bare(params: Params, steps: int, threads: int, built: list | None = None, precision: str = "fp32"
              ) -> tuple[float, float]:
    """(real tokens/s, seconds) of forward, backward, clip and AdamW alone, on batches built beforehand."""
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        run = prepared_run(params, Path(out))
        model, optimizer = run.model, run.optimizer
        batches = built or [(task, next_batch(run.train_data[task], run.streams[task]))
                            for task in (run.sampler.sample(step) for step in range(1, steps + 1))]
        device = next(model.parameters()).device
        model.train()
        start = time.perf_counter()
        for task, batch in batches:
            with autocast(device, precision):
                loss = get_kind(batch.task_options["kind"]).loss(model(batch, [task])[task], batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), params.training.clip)
            optimizer.step()
        seconds = time.perf_counter() - start
    return sum(b.n_tokens for _, b in batches) / seconds, seconds


def ddp_worker(params_file: Path, steps: int, prefetch: int, report: Path) -> None:
    """Under torchrun: the real loop in each process; rank 0 writes tokens/s (all ranks' tokens)."""
    world = join()
    params = with_training(load_params(params_file), max_steps=steps, eval_every=steps, checkpoint_every=steps,
                           max_minutes=None, progress_seconds=3600, threads=1, prefetch=prefetch)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        run = prepared_run(params, Path(out), world)
        streams, sampler = copy.deepcopy(run.streams), copy.deepcopy(run.sampler)
        tokens = sum(next_batch(run.train_data[t], streams[t]).n_tokens  # the global batches: all ranks' shares
                     for t in (sampler.sample(step) for step in range(1, steps + 1)))
        start = time.perf_counter()
        training_loop.loop(run, params)
        seconds = time.perf_counter() - start
    if world.main:
        report.write_text(json.dumps({"tokens_per_second": tokens / seconds}))
    leave(world)


def time_ddp(params_file: Path, steps: int, prefetch: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "ddp.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", __file__,
                   "--params", str(params_file), "--steps", str(steps), "--prefetch", str(prefetch),
                   "--ddp-worker", str(report)]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "MTL_DIST_BACKEND": "gloo"})
        return json.loads(report.read_text())["tokens_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--skip-ddp", action="store_true", help="leave out the 2-process run")
    parser.add_argument("--prefetch", type=int, default=2, help="the loop with this many steps' batches prepared "
                        "ahead, beside the loop with none")
    parser.add_argument("--ddp-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ddp_worker is not None:
        return ddp_worker(args.params, args.steps, args.prefetch, args.ddp_worker)
    params = with_training(load_params(args.params), device="cpu", precision="fp32", processes=1)
    cfg = params.training
    print(f"{args.steps} steps per row; batch {cfg.batch_size} {cfg.batch_unit}; tasks {list(params.tasks)}; "
          f"CPU: {os.cpu_count()} cores")

    ahead = args.prefetch
    print(f"\n{'':32} {'1 thread':>24} {'2 threads':>24}   (real tokens/s; the loop: prefetch 0 | {ahead})")
    bare = {t: time_bare(params, args.steps, t)[0] for t in (1, 2)}
    looped = {(t, depth): time_loop(params, args.steps, t, depth) for t in (1, 2)
              for depth in (0, ahead)}  # off and on one after the other, the shares within each run
    print(f"{'bare step (fwd, bwd, AdamW)':32} {bare[1]:>24,.0f} {bare[2]:>24,.0f}")
    for label, figure, form in (("the loop", 0, ",.0f"), ("loop / bare step", None, ".2f"),
                                ("step time outside the model", 1, ".1%"), ("step time waiting for batches", 2, ".1%")):
        cells = []
        for t in (1, 2):
            off, on = looped[t, 0], looped[t, ahead]
            values = (off[0] / bare[t], on[0] / bare[t]) if figure is None else (off[figure], on[figure])
            cells.append(f"{values[0]:{form}} | {values[1]:{form}}")
        print(f"{label:32} {cells[0]:>24} {cells[1]:>24}")
    ratios = {t: looped[t, ahead][0] / looped[t, 0][0] for t in (1, 2)}
    print(f"prefetch {ahead} / prefetch 0, the loop's tokens/s: 1 thread {ratios[1]:.2f}, 2 threads {ratios[2]:.2f}")

    bf16 = time_bare(params, args.steps, 2, precision="bf16")[0]
    print(f"\nprecision (bare step, 2 threads): fp32 {bare[2]:,.0f}  bf16 {bf16:,.0f}  bf16 / fp32 {bf16 / bare[2]:.2f}")

    if not args.skip_ddp:
        single = looped[2, ahead][0]
        ddp = time_ddp(args.params, args.steps, ahead)
        print(f"processes (the loop, prefetch {ahead}): 1 x 2 threads {single:,.0f}  "
              f"2 x 1 thread {ddp:,.0f}  ratio {ddp / single:.2f}")

    shuffled = with_training(params, pool_size=1)
    print(f"\nbatches (bare step, 2 threads): bucketed (pool {cfg.pool_size}) {bare[2]:,.0f}  shuffled "
          f"{time_bare(shuffled, args.steps, 2)[0]:,.0f}")
    with tempfile.TemporaryDirectory() as out:
        run = prepared_run(params, Path(out))
        epoch = {t: s.epoch_batches(0) for t, s in run.streams.items()}
        fraction = sum(padding_fraction(b, run.train_data[t].lengths()) * len(run.train_data[t].rows)
                       for t, b in epoch.items()) / sum(len(d.rows) for d in run.train_data.values())
        print(f"padding in bucketed batches: {fraction:.1%}")
        dev = training_loop.read_split(params.unified_dir, "dev", params.tasks,
                                       training_loop.read_labels(params.unified_dir / params.paths.labels))
        inputs = [x for d in dev.values() for x in d.inputs]
        torch.set_num_threads(2)
        start = time.perf_counter()
        predict(run.model, inputs, batch_size=cfg.eval_batch_size)
        seconds = time.perf_counter() - start
        tokens = sum(len(text) for x in inputs for text in x)
        print(f"predict, every task, {len(inputs):,} dev examples, 2 threads: {tokens / seconds:,.0f} tokens/s")


if __name__ == "__main__":
    main()
