"""Holm's step-down over the tasks compared with production, as adjusted percentile intervals of the paired
bootstrap replicates (see decision.py for how the gate reads them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtl.gate.report import TaskVerdict


@dataclass(frozen=True)
class Comparison:
    interval: list[float]  # [lo, hi] of candidate - production
    confidence: float  # the Holm-adjusted level of the interval
    p_value: float
    rank: int  # 1 = smallest p
    family: int  # how many tasks were compared
    outcome: TaskVerdict
    stopped_at: str | None  # the task where Holm stopped, when this one ranked after it


def holm(replicates: dict[str, np.ndarray], margins: dict[str, float], confidence: float) -> dict[str, Comparison]:
    """Holm's step-down over per-task tests of "difference == margin", as adjusted percentile intervals.

    replicates: task -> bootstrap replicates of the difference; margins: task -> -max_drop.
    """
    alpha = 1.0 - confidence
    p_values = {task: _p_value(r, margins[task]) for task, r in replicates.items()}
    order = sorted(p_values, key=lambda task: (p_values[task], task))
    m, stop, out = len(order), None, {}
    for rank, task in enumerate(order, start=1):
        level = alpha / (m - (stop[0] if stop else rank) + 1)
        # inverted_cdf: the ends are replicate values, and lo >= margin <=> P*(d* < margin) < level / 2.
        lo, hi = (float(x) for x in np.quantile(replicates[task], [level / 2, 1 - level / 2], method="inverted_cdf"))
        outcome: TaskVerdict = "pass" if lo >= margins[task] else "fail" if hi < margins[task] else "inconclusive"
        if stop is None and outcome == "inconclusive":
            stop = (rank, task)
        elif stop is not None:
            outcome = "inconclusive"  # Holm rejects nothing after its first non-rejection
        out[task] = Comparison([lo, hi], 1.0 - level, p_values[task], rank, m, outcome,
                               stop[1] if stop and stop[0] < rank else None)
    return out


def _p_value(replicates: np.ndarray, margin: float) -> float:
    below = float(np.mean(replicates < margin))
    return min(1.0, 2.0 * min(below, 1.0 - below))
