"""Training throughput with length bucketing vs plain shuffled batches, and prediction throughput.

    .venv/bin/python bench/training.py [--params params.yaml] [--data data/unified] [--steps 60] [--threads 2]

Both training runs use the params' model, batch size and task sampler, from the same initial weights;
only pool_size differs (params' value vs 1). tokens/s counts real tokens, not padding. Prints figures;
asserts nothing. Without a unified dataset it makes a synthetic one with SST/EWT-like lengths.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads; see setup_torch in loop.py

import torch  # noqa: E402

from mtl.config import TaskConfig, load_params  # noqa: E402
from mtl.model import build_model, build_vocab, predict  # noqa: E402
from mtl.training.batching import BucketBatches, padding_fraction  # noqa: E402
from mtl.training.data import TaskData, read_labels, read_split  # noqa: E402
from mtl.training.step import make_optimizer, next_batch, train_step  # noqa: E402
from mtl.training.samplers import TaskSampler  # noqa: E402
from mtl.training.weighting import make_weighting  # noqa: E402


def synthetic(n: int, mean_length: float, kind: str, labels: list[str], seed: int) -> TaskData:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(5000)]
    rows = []
    for _ in range(n):
        length = max(1, min(120, int(rng.lognormvariate(0, 0.6) * mean_length)))
        tokens = [rng.choice(words) for _ in range(length)]
        tags = [rng.choice(labels) for _ in tokens] if kind == "tagging" else []
        rows.append({"tokens": tokens, "tags": tags, "label": None if tags else rng.choice(labels)})
    return TaskData("", kind, labels, rows)


def load_data(data_dir: Path, tasks: dict[str, TaskConfig]) -> tuple[dict[str, TaskData], dict[str, TaskData], dict]:
    if (data_dir / "train.parquet").exists():
        labels = read_labels(data_dir)
        return read_split(data_dir, "train", tasks, labels), read_split(data_dir, "dev", tasks, labels), labels
    print(f"{data_dir} has no dataset: synthetic data with EWT/WNUT/SST/TREC-like sizes and lengths")
    shapes = {"pos": (12_500, 16, "tagging"), "ner": (3_400, 18, "tagging"),
              "sentiment": (67_000, 9, "classification"), "question": (4_900, 10, "classification")}
    labels = {t: {"kind": k, "labels": ["A", "B", "C"], "scheme": "none"} for t, (_, _, k) in shapes.items()}
    train, dev = {}, {}
    for i, (task, (n, length, kind)) in enumerate(shapes.items()):
        train[task] = synthetic(n, length, kind, ["A", "B", "C"], seed=i)
        dev[task] = synthetic(1000, length, kind, ["A", "B", "C"], seed=100 + i)
        train[task].name = dev[task].name = task
    return train, dev, labels


def bench_training(model, train, cfg, pool_size: int, steps: int) -> tuple[float, float, float]:
    """(real tokens/s, padded tokens/s, padding fraction) over `steps` steps after 5 warm-up steps."""
    model = copy.deepcopy(model)
    optimizer = make_optimizer(model, cfg)
    sizes = {t: len(d.rows) for t, d in train.items()}
    sampler = TaskSampler(sizes, cfg.sampler, max_steps=cfg.max_steps, seed=cfg.seed)
    weighting = make_weighting(cfg, list(train))
    streams = {t: BucketBatches([len(e.words) for e in d.examples], batch_size=cfg.batch_size, unit=cfg.batch_unit,
                                pool_size=pool_size, seed=cfg.seed, name=t) for t, d in train.items()}
    real = padded = 0
    for i in range(steps + 5):
        if i == 5:
            start, real, padded = time.perf_counter(), 0, 0
        task = sampler.sample(i + 1)
        batch = next_batch(train[task], streams[task])
        train_step(model, optimizer, {task: batch}, {task: train[task].kind}, weighting, cfg.clip)
        real += batch.n_tokens
        padded += batch.words.numel()
    seconds = time.perf_counter() - start
    epoch = {t: s.epoch_batches(0) for t, s in streams.items()}
    lengths = {t: [len(e.words) for e in train[t].examples] for t in train}
    fraction = sum(padding_fraction(b, lengths[t]) * len(train[t].rows) for t, b in epoch.items()) / sum(
        len(d.rows) for d in train.values())
    return real / seconds, padded / seconds, fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, default=None, help="default: the params' unified folder")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params.training
    torch.set_num_threads(args.threads)
    torch.manual_seed(cfg.seed)
    train, dev, labels = load_data(args.data or params.unified_dir, params.tasks)
    vocab = build_vocab((s for d in train.values() for s in d.sentences), min_count=params.model.min_word_count,
                        lowercase=params.model.lowercase, max_word_chars=params.model.max_word_chars)
    for data in train.values():
        data.encode(vocab)
    model = build_model(params.model, vocab, {t: {**labels[t], "kind": params.tasks[t].kind} for t in train})
    print(f"model: {model.n_parameters():,} parameters; {args.threads} threads; batch {cfg.batch_size} "
          f"{cfg.batch_unit}; {args.steps} timed steps per row")
    print(f"{'batches':<28} {'tokens/s':>9} {'padded tok/s':>13} {'padding':>8}")
    for name, pool in ((f"bucketed (pool {cfg.pool_size})", cfg.pool_size), ("shuffled (pool 1)", 1)):
        tokens, padded, fraction = bench_training(model, train, cfg, pool, args.steps)
        print(f"{name:<28} {tokens:>9,.0f} {padded:>13,.0f} {fraction:>8.1%}")
    sentences = [s for d in dev.values() for s in d.sentences]
    n_tokens = sum(map(len, sentences))
    start = time.perf_counter()
    predict(model, sentences, batch_size=cfg.eval_batch_size)
    seconds = time.perf_counter() - start
    print(f"predict, all {len(train)} tasks, {len(sentences):,} dev sentences: {n_tokens / seconds:,.0f} tokens/s "
          f"({seconds:.1f} s)")


if __name__ == "__main__":
    main()
