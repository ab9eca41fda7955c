"""Evaluate: per-task metrics with bootstrap confidence intervals, as one JSON-ready dict.

Pure functions, no I/O. Each task kind turns (gold, pred) into per-example sufficient statistics
(rows whose column sums determine every metric); this module only sums rows. A bootstrap replicate is
a multinomial draw of how often each example is picked, so the replicate totals of a whole batch of
replicates are one matrix product (counts @ stats) instead of a Python loop over resampled lists.

The result (written as metrics.json by the evaluate stage, read by the gate and the registry):

    {"overall":  {"mean_primary": float, "n_tasks": int},
     "bootstrap": {"n_resamples": int, "confidence": float, "seed": int, "method": "percentile"},
     "per_task": {task: {"kind": str, "metric": primary name, "value": float, "ci": [lo, hi] | None,
                         "n": n_examples, "metrics": {name: float}, "intervals": {name: [lo, hi]},
                         "examples_sha256": str, "per_class": {class: {metric: float, "support": int}},
                         "confusion": {gold: {pred: count}} (classification)}}}

per_class is the kind's breakdown: per entity type (BIO tagging: precision, recall, F1), per tag (accuracy),
per label (precision, recall, F1), per range of the gold score (regression: mean prediction, MSE).

The paired test of the gate (candidate vs production on the same examples) needs both models'
per-example rows: `paired_stats` builds them from the two models' predictions, and `paired_bootstrap`
resamples examples once for both models, so each replicate's metric difference keeps the pairing (the
noise the two models share on hard examples cancels). `examples_sha256` identifies the gold examples
and their order, so two evaluations can be checked to be comparable row by row.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions

# Bound the (replicates x examples) count matrix to ~32 MB whatever the split size.
_MAX_COUNT_CELLS = 4_000_000


def evaluate(
    gold: dict[str, list],
    pred: dict[str, list],
    tasks: dict[str, TaskOptions],
    labels: dict[str, list[str]],
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Score every task in `gold`. gold/pred: task -> examples (tag lists or labels, as strings)."""
    if set(gold) != set(pred):
        raise ValueError(f"gold tasks {sorted(gold)} != predicted tasks {sorted(pred)}")
    per_task = {
        task: evaluate_task(
            task, gold[task], pred[task], tasks[task], labels[task],
            n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
        )
        for task in sorted(gold)
    }
    values = [row["value"] for row in per_task.values()]
    return {
        # A mean across different metrics is only a headline for listings; decisions are per task.
        "overall": {"mean_primary": float(np.mean(values)) if values else 0.0, "n_tasks": len(values)},
        "bootstrap": {"n_resamples": n_bootstrap, "confidence": confidence, "seed": seed, "method": "percentile"},
        "per_task": per_task,
    }


def evaluate_task(
    task: str,
    gold: list,
    pred: list,
    task_cfg: TaskOptions,
    labels: list[str],
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    kind = kind_of(task_cfg)
    stats = task_stats(gold, pred, task_cfg, labels)
    metrics = kind.metrics_from_stats(stats.sum(axis=0), labels, task_cfg)
    primary = kind.default_metric(task_cfg)
    intervals = bootstrap_intervals(
        stats, lambda totals: kind.metrics_from_stats(totals, labels, task_cfg),
        n_bootstrap=n_bootstrap, confidence=confidence, rng=task_rng(seed, task),
    )
    row: dict[str, Any] = {
        "kind": task_cfg.kind,
        "metric": primary,
        "lower_is_better": sorted(set(metrics) & kind.lower_is_better),  # the gate's direction per metric
        "value": metrics[primary],
        "ci": intervals.get(primary),
        "n": len(gold),
        "metrics": metrics,
        "intervals": intervals,
        "examples_sha256": examples_sha256(gold),
    }
    row["per_class"] = kind.per_class(gold, pred, labels, task_cfg)
    table = kind.confusion(gold, pred, labels)
    if table is not None:
        row["confusion"] = table
    return row


def task_stats(gold: list, pred: list, task_cfg: TaskOptions, labels: list[str]) -> np.ndarray:
    """Per-example sufficient statistics (n_examples, k): what a paired test resamples."""
    return kind_of(task_cfg).example_stats(gold, pred, labels, task_cfg)


def task_rng(seed: int, task: str) -> np.random.Generator:
    # One stream per (seed, task name): adding or reordering tasks never changes another task's interval.
    return np.random.default_rng([seed, zlib.crc32(task.encode("utf-8"))])


def bootstrap_intervals(
    stats: np.ndarray,
    metrics_of,
    *,
    n_bootstrap: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, list[float]]:
    """Percentile intervals {metric: [lo, hi]} from resampling the rows of `stats` with replacement.

    metrics_of(totals) -> {metric: value}. Returns {} when there is nothing to resample.
    """
    n = stats.shape[0]
    if n_bootstrap <= 0 or n == 0:
        return {}
    replicates: list[dict[str, float]] = []
    chunk = max(1, _MAX_COUNT_CELLS // n)
    uniform = np.full(n, 1.0 / n)
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        counts = rng.multinomial(n, uniform, size=size)  # (size, n): times each example is drawn
        totals = counts @ stats  # (size, k): column sums of each resample
        replicates.extend(metrics_of(row) for row in totals)
    alpha = (1.0 - confidence) / 2.0
    intervals = {}
    for name in replicates[0]:
        values = np.array([r[name] for r in replicates])
        lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
        intervals[name] = [float(lo), float(hi)]
    return intervals


@dataclass(frozen=True)
class PairedStats:
    """Two models' per-example statistics on the same examples: row i of both is example i."""

    candidate: np.ndarray  # (n, k)
    production: np.ndarray  # (n, k)
    metrics_of: Callable[[np.ndarray], dict[str, float]]  # column totals (k,) -> {metric: value}
    examples_sha256: str  # the gold examples both were scored on, in order

    @property
    def n(self) -> int:
        return self.candidate.shape[0]

    def difference(self) -> dict[str, float]:
        """Candidate minus production, per metric, on the whole set."""
        cand, prod = self.metrics_of(self.candidate.sum(axis=0)), self.metrics_of(self.production.sum(axis=0))
        return {name: cand[name] - prod[name] for name in cand}


def paired_stats(
    gold: list, candidate_pred: list, production_pred: list, task_cfg: TaskOptions, labels: list[str]
) -> PairedStats:
    kind = kind_of(task_cfg)
    return PairedStats(
        candidate=task_stats(gold, candidate_pred, task_cfg, labels),
        production=task_stats(gold, production_pred, task_cfg, labels),
        metrics_of=lambda totals: kind.metrics_from_stats(totals, labels, task_cfg),
        examples_sha256=examples_sha256(gold),
    )


def paired_bootstrap(
    candidate: np.ndarray,
    production: np.ndarray,
    metrics_of,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """{metric: (n_bootstrap,) replicates of metric(candidate) - metric(production)}.

    Each replicate draws examples with replacement ONCE and scores both models on that draw. Works for
    any metric that is a function of column totals (accuracy, entity F1, macro-F1). {} when empty.
    """
    if candidate.shape != production.shape:
        raise ValueError(f"paired statistics must have the same shape: {candidate.shape} != {production.shape}")
    n, k = candidate.shape
    if n_bootstrap <= 0 or n == 0:
        return {}
    both = np.hstack([candidate, production])  # (n, 2k): one product gives both models' totals
    differences: list[dict[str, float]] = []
    chunk = max(1, _MAX_COUNT_CELLS // n)
    uniform = np.full(n, 1.0 / n)
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        counts = rng.multinomial(n, uniform, size=size)  # (size, n)
        totals = counts @ both  # (size, 2k)
        for row in totals:
            cand, prod = metrics_of(row[:k]), metrics_of(row[k:])
            differences.append({name: cand[name] - prod[name] for name in cand})
    return {name: np.array([d[name] for d in differences]) for name in differences[0]}


def examples_sha256(gold: list) -> str:
    """A fingerprint of the gold examples in order: equal hashes mean row-by-row comparable evaluations."""
    return hashlib.sha256(json.dumps(gold, ensure_ascii=False).encode("utf-8")).hexdigest()


def confusion_markdown(confusion: dict[str, dict[str, int]]) -> str:
    """A Markdown table: one row per gold label, one column per predicted label."""
    predicted = list(next(iter(confusion.values()), {}))
    lines = [
        "| gold \\ predicted | " + " | ".join(map(_cell, predicted)) + " |",
        "|---|" + "---:|" * len(predicted),
    ]
    for gold_label, row in confusion.items():
        lines.append(f"| {_cell(gold_label)} | " + " | ".join(str(row.get(p, 0)) for p in predicted) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")  # a label containing "|" must not split the table
