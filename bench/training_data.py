"""Peak memory and time of a training data load (train split, every task: read, count the vocabulary, encode),
read lazily (mtl.training.data.load_training_data) against the eager reading training did before issue 17 (the
split read whole, each task's rows as Python dicts, a list of Example objects), on the unified dataset and on a
replica of it N times over. Each load runs in a fresh process; peak = that process's max RSS, less its RSS
after the imports.

    python bench/training_data.py [--times 1 10] [--data-dir data/unified]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROW_GROUP = 16_384  # rows per row group of a replica, as unify writes them (unify.batch_rows)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


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


def measure(how: str, data_dir: Path) -> dict:
    """In this process: one load, its time and memory."""
    from mtl.config import load_params
    from mtl.training.data import load_training_data

    params = load_params(REPO / "params.yaml")
    base = rss_mb()
    start = time.perf_counter()
    held = eager_load(params, data_dir) if how == "eager" else load_training_data(params, data_dir)
    seconds = time.perf_counter() - start
    examples = sum(len(x) for x in held[2].values()) if how == "eager" else sum(len(t.examples) for t in held[0].values())
    return {"seconds": seconds, "peak_mb": rss_mb() - base, "base_mb": base, "examples": examples}


def replica(source: Path, times: int, folder: Path) -> Path:
    """train.parquet repeated `times` over (row groups of ROW_GROUP rows), with the labels file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(source / "train.parquet")
    pq.write_table(pa.concat_tables([table] * times), folder / "train.parquet", row_group_size=ROW_GROUP)
    shutil.copy(source / "labels.json", folder / "labels.json")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "unified")
    parser.add_argument("--measure", choices=["lazy", "eager"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.data_dir)))
        return
    print("training data load: train split, every task of params.yaml (read, vocabulary, encode); fresh process each")
    print(f"{'size':>5} {'examples':>9} {'eager MB':>9} {'lazy MB':>8} {'lazy/eager':>10} {'eager s':>8} {'lazy s':>7}")
    figures = {}
    for times in args.times:
        with tempfile.TemporaryDirectory() as tmp:
            folder = replica(args.data_dir, times, Path(tmp))
            runs = {how: json.loads(subprocess.run(
                [sys.executable, __file__, "--measure", how, "--data-dir", str(folder)], check=True,
                stdout=subprocess.PIPE, text=True, cwd=REPO).stdout) for how in ("eager", "lazy")}
        figures[times] = runs
        eager, lazy = runs["eager"], runs["lazy"]
        print(f"{times:>4}x {lazy['examples']:>9,} {eager['peak_mb']:>9,.0f} {lazy['peak_mb']:>8,.0f} "
              f"{lazy['peak_mb'] / eager['peak_mb']:>10.2f} {eager['seconds']:>8.1f} {lazy['seconds']:>7.1f}")
    if len(figures) > 1:
        first, last = min(figures), max(figures)
        for how in ("eager", "lazy"):
            print(f"{how}: {last}x / {first}x peak memory {figures[last][how]['peak_mb'] / figures[first][how]['peak_mb']:.2f}, "
                  f"time {figures[last][how]['seconds'] / figures[first][how]['seconds']:.2f}")
    print(f"(peak MB: max RSS less the RSS after imports, {figures[min(figures)]['lazy']['base_mb']:,.0f} MB)")


if __name__ == "__main__":
    main()
