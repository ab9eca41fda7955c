"""Peak memory and time of a training data load (train split, every task: read, count the vocabulary, ready the
encoding, the batching's lengths) and of drawing training batches after it, as training does them now
(mtl.training.data.load_training_data; a batch's rows taken from a memory-mapped store and encoded when it is
drawn, step.next_batch) against the eager reading training did before issue 17 (the split read whole, each
task's rows as Python dicts, every example encoded up front into a list of Example objects), on the unified
dataset and on a replica of it N times over. --old: a checkout of an earlier commit (git worktree add /tmp/old
a7e1983: the examples packed up front) whose own bench measures its load, for a third column in the same run.
Each load runs in a fresh process; peak = that process's max RSS (load and draws), less its RSS after the
imports; "mapped" = the file-backed part of its RSS at the end (the stores' pages: page cache the kernel may
drop, not memory the process allocated). Batches: the loop's own length-bucketed streams (params.yaml's
training.batch_size, batch_unit, pool_size), round-robin over the tasks, after one untimed batch per task.

    python bench/training_data.py [--times 1 10 30] [--eager-up-to 10] [--batches 300] [--old /tmp/old]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ROW_GROUP = 16_384  # rows per row group of a replica, as unify writes them (unify.batch_rows)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def status_mb(field: str) -> float:
    """A line of /proc/self/status in MB: RssFile (memory-mapped files, the code's libraries: pages the kernel
    may drop and read again) or RssAnon (memory the process allocated)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


class AnonPeak:
    """The highest RssAnon seen, polled by a thread every few milliseconds (ru_maxrss counts mapped pages too)."""

    def __init__(self) -> None:
        self.peak, self._stop = status_mb("RssAnon"), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, status_mb("RssAnon"))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, status_mb("RssAnon"))


def draw_batches(tasks: list[str], batch: Callable[[str, list[int]], Any], lengths: dict, params, n: int
                 ) -> tuple[float, float]:
    """(ms per batch, padded tokens per batch) of n batches drawn round-robin over `tasks` with batch(task, index),
    from the loop's streams; one untimed batch per task first (the streams' first epoch is built then)."""
    from mtl.training.batching import BucketBatches

    cfg = params.training
    streams = {t: BucketBatches(lengths[t], batch_size=cfg.batch_size, unit=cfg.batch_unit, pool_size=cfg.pool_size,
                                seed=cfg.seed, name=t) for t in tasks}
    for t in tasks:
        batch(t, next(streams[t]))
    tokens, start = 0, time.perf_counter()
    for k in range(n):
        drawn = batch(tasks[k % len(tasks)], next(streams[tasks[k % len(tasks)]]))
        tokens += sum(text.words.numel() for text in drawn.texts)
    return (time.perf_counter() - start) * 1000 / n, tokens / n


def eager_load(params, data_dir: Path) -> tuple:
    """The load as it was: the whole split in memory, rows as dicts, examples as a list (mtl before issue 17)."""
    import pyarrow.parquet as pq

    from mtl.model.batch import Example
    from mtl.model.vocab import build_vocab
    from mtl.tasks import kind_of
    from mtl.training.data import read_labels

    labels = read_labels(data_dir / params.paths.labels)
    table = pq.read_table(data_dir / "train.parquet")
    task_column = table.column("task").to_pylist()
    rows = {}
    for name, options in params.tasks.items():
        fields = list(kind_of(options).fields(options))
        at = [i for i, task in enumerate(task_column) if task == name]
        columns = {f: table.column(f).take(at).to_pylist() for f in fields}
        rows[name] = [{f: columns[f][i] for f in fields} for i in range(len(at))]
    texts = {name: kind_of(options).text_fields(options) for name, options in params.tasks.items()}
    words = params.model.words
    vocab = build_vocab((row[t] for name in rows for row in rows[name] for t in texts[name]), min_count=words.min_count,
                        lowercase=words.lowercase, max_word_chars=words.max_chars)
    examples = {}
    for name, options in params.tasks.items():
        kind, ids = kind_of(options), {label: i for i, label in enumerate(labels[name]["labels"])}
        examples[name] = [Example(vocab.encode_texts([row[t] for t in texts[name]]), kind.target_ids(row, ids))
                          for row in rows[name]]
    return table, rows, examples


def measure(how: str, data_dir: Path, n_batches: int) -> dict:
    """In this process: one load (with the batching's lengths), its time; n_batches drawn; the memory of both."""
    from mtl.config import load_params
    from mtl.model.batch import collate
    from mtl.tasks import kind_of
    from mtl.training.data import load_training_data
    from mtl.training.step import next_batch

    params = load_params(REPO / "params.yaml")
    base, base_file, base_anon = rss_mb(), status_mb("RssFile"), status_mb("RssAnon")
    anon = AnonPeak()
    start = time.perf_counter()
    if how == "eager":
        table, rows, examples = eager_load(params, data_dir)
        texts = {name: kind_of(options).text_fields(options) for name, options in params.tasks.items()}
        lengths = {name: [sum(len(row[t]) for t in texts[name]) for row in rows[name]] for name in rows}
    else:
        data, _ = load_training_data(params, data_dir)
        lengths = {name: task.lengths() for name, task in data.items()}
    seconds = time.perf_counter() - start
    if how == "eager":  # the batch as step.next_batch made it from a list of encoded examples
        def batch(task, index):
            kind, chosen = kind_of(params.tasks[task]), [examples[task][i] for i in index]
            made = collate(chosen, index=index)
            made.targets = kind.collate_targets([e.target for e in chosen], made.texts[0].words.size(1))
            return made
    else:
        def batch(task, index):
            return next_batch(data[task], _Once(index))
    ms, tokens = draw_batches(list(params.tasks), batch, lengths, params, n_batches)
    return {"seconds": seconds, "peak_mb": rss_mb() - base, "base_mb": base,
            "mapped_mb": status_mb("RssFile") - base_file,
            "anon_peak_mb": anon.stop() - base_anon,
            "examples": sum(len(x) for x in lengths.values()), "ms_per_batch": ms, "tokens_per_batch": tokens}


class _Once:
    """A batch stream that gives one given batch: next_batch's input when the bench drew the index itself."""

    def __init__(self, index: list[int]) -> None:
        self.index = index

    def __next__(self) -> list[int]:
        return self.index


def replica(source: Path, times: int, folder: Path) -> Path:
    """train.parquet repeated `times` over (row groups of ROW_GROUP rows), with the labels file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(source / "train.parquet")
    pq.write_table(pa.concat_tables([table] * times), folder / "train.parquet", row_group_size=ROW_GROUP)
    shutil.copy(source / "labels.json", folder / "labels.json")
    return folder


def child(code: Path, how: str, folder: Path, n_batches: int) -> dict:
    """One measurement in a fresh process, by the bench of checkout `code` (its own mtl first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [sys.executable, str(code / "bench" / "training_data.py"), "--measure", how, "--data-dir", str(folder)]
    if code == REPO:
        command += ["--batches", str(n_batches)]
    return json.loads(subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=code,
                                     env=env).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--eager-up-to", type=int, default=10, help="the eager load only at sizes up to this one")
    parser.add_argument("--batches", type=int, default=300, help="batches drawn (and timed) after the load")
    parser.add_argument("--old", type=Path, help="a checkout of an earlier commit (git worktree add), its load too")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "unified")
    parser.add_argument("--measure", choices=["lazy", "eager"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.data_dir, args.batches)))
        return
    print("training data load: train split, every task of params.yaml (read, vocabulary, encoding ready, "
          f"lengths), then {args.batches} batches drawn; fresh process each; `uptime`: {os.getloadavg()[0]:.1f} load")
    print("| size | examples | code | load s | peak MB | peak / 1x | peak / eager | anon peak MB | anon / 1x | "
          "mapped MB | ms / batch | tokens / batch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    figures: dict[tuple[int, str], dict] = {}
    for times in args.times:
        with tempfile.TemporaryDirectory() as tmp:
            folder = replica(args.data_dir, times, Path(tmp))
            runs = [("eager", REPO, "eager")] if times <= args.eager_up_to else []
            runs += [("old", args.old, "lazy")] if args.old else []
            runs += [("now", REPO, "lazy")]
            for label, code, how in runs:
                figures[times, label] = run = child(code, how, folder, args.batches)
                first, eager = figures.get((min(args.times), label)), figures.get((times, "eager"))
                print(f"| {times}x | {run['examples']:,} | {label} | {run['seconds']:.1f} | {run['peak_mb']:,.0f} | "
                      f"{run['peak_mb'] / first['peak_mb']:.2f} | "
                      + (f"{run['peak_mb'] / eager['peak_mb']:.2f}" if eager else "") + " | "
                      + (f"{run['anon_peak_mb']:,.0f} | {run['anon_peak_mb'] / first['anon_peak_mb']:.2f} | "
                         f"{run['mapped_mb']:,.0f} | {run['ms_per_batch']:.1f} | {run['tokens_per_batch']:,.0f} |"
                         if "ms_per_batch" in run else "| | | | |"), flush=True)
    print(f"(peak MB: max RSS less the RSS after imports, {figures[min(args.times), 'now']['base_mb']:,.0f} MB; "
          f"`uptime` load now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
