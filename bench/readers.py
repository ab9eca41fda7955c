"""Benchmark the corpus readers on the four real corpora, and ours against the `conllu` package on EWT.

    .venv/bin/python bench/readers.py [--mirror DIR] [--repeat N]

Every configured file is read with the options of params.yaml; each measurement is repeated and the
best time kept (the machine is shared, so the best run is the least disturbed one). Figures only:
nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import conllu as conllu_package

from mtl.config import load_params
from mtl.corpora.formats import FORMATS
from mtl.records import Record

REPO = Path(__file__).resolve().parents[1]


def best_of(repeat: int, run: Callable[[], tuple[int, int]]) -> tuple[int, int, float]:
    """(records, tokens, best seconds) of `repeat` runs of `run`, which returns (records, tokens)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        records, tokens = run()
        best = min(best, time.perf_counter() - start)
    return records, tokens, best


def read_with_ours(reader: Callable, path: Path, options: object, corpus: str, task: str, split: str,
                   max_line_bytes: int) -> Callable[[], tuple[int, int]]:
    def run() -> tuple[int, int]:
        records = tokens = 0
        for item in reader(path, options, corpus=corpus, task=task, split=split, max_line_bytes=max_line_bytes):
            if isinstance(item, Record):
                records += 1
                tokens += len(item.tokens)
        return records, tokens

    return run


def read_with_conllu_package(path: Path) -> Callable[[], tuple[int, int]]:
    def run() -> tuple[int, int]:
        sentences = words = 0
        with open(path, encoding="utf-8") as file:
            for sentence in conllu_package.parse_incr(file):
                sentences += 1
                # ranges ("1-2") and empty nodes ("8.1") parse to tuples; words to ints
                words += sum(1 for token in sentence if isinstance(token["id"], int))
        return sentences, words

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_mirror = os.environ.get("MTL_CORPORA_MIRROR", str(REPO.parent / "shared" / "corpora"))
    parser.add_argument("--mirror", type=Path, default=Path(default_mirror), help="folder of <corpus>/<file>")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    args = parser.parse_args()

    params = load_params(args.params)
    rows = []
    ewt_train: tuple[Path, float, int] | None = None
    for name, corpus in params.corpora.items():
        reader = FORMATS[corpus.format].read
        for split, file in corpus.files.items():
            path = args.mirror / (corpus.mirror_name or name) / file.path
            run = read_with_ours(reader, path, corpus.reader_options(split), name, corpus.task, split,
                                 params.validation.max_line_bytes)
            records, tokens, seconds = best_of(args.repeat, run)
            rows.append((corpus.format, f"{name}/{file.path}", records, tokens, seconds))
            if corpus.format == "conllu" and split == "train":
                ewt_train = path, seconds, tokens

    header = (f"{'format':<15} {'file':<38} {'records':>8} {'tokens':>8} {'seconds':>8} "
              f"{'records/s':>10} {'tokens/s':>10}")
    print(header)
    print("-" * len(header))
    for format_name, file_name, records, tokens, seconds in rows:
        print(f"{format_name:<15} {file_name:<38} {records:>8,} {tokens:>8,} {seconds:>8.3f} "
              f"{records / seconds:>10,.0f} {tokens / seconds:>10,.0f}")
    total_records, total_tokens = sum(r[2] for r in rows), sum(r[3] for r in rows)
    total_seconds = sum(r[4] for r in rows)
    print(f"{'all':<15} {'':<38} {total_records:>8,} {total_tokens:>8,} {total_seconds:>8.3f} "
          f"{total_records / total_seconds:>10,.0f} {total_tokens / total_seconds:>10,.0f}")

    if ewt_train is None:
        return
    path, ours_seconds, ours_words = ewt_train
    sentences, words, theirs_seconds = best_of(args.repeat, read_with_conllu_package(path))
    print()
    print(f"conllu {version('conllu')} (parse_incr) on {path.name}: {sentences:,} sentences, {words:,} words, "
          f"{theirs_seconds:.3f} s, {words / theirs_seconds:,.0f} words/s")
    print(f"ours: {ours_words:,} words, {ours_seconds:.3f} s, {ours_words / ours_seconds:,.0f} words/s "
          f"(ours/conllu speed ratio: {theirs_seconds / ours_seconds:.2f}x; same words: {words == ours_words})")


if __name__ == "__main__":
    main()
