"""Gate: the promotion decision, a pure function of the two evaluations, their paired per-example
statistics and the thresholds (params.yaml `gate:`).

Per task, three verdicts:
- floor: the candidate's point estimate on test must be >= floor (the interval is reported, not used:
  a floor is a product requirement on the score, not a hypothesis).
- champion/challenger: d = metric(candidate) - metric(production) on the SAME test examples (checked by
  examples_sha256). A paired percentile bootstrap resamples the examples once for both models. The
  task passes when its interval's lower end is >= -max_drop (no drop beyond max_drop), fails when its
  upper end is < -max_drop (a drop beyond max_drop, larger than the noise), and is inconclusive when
  the interval contains -max_drop.
- Holm across tasks. The family is every task compared with production; each tests "d == -max_drop"
  two-sided, p = 2 * min(P*(d* < -max_drop), P*(d* >= -max_drop)), and a rejection's side says pass or
  fail. Sorted by p, the task at rank j (of m) gets its interval at confidence 1 - alpha / (m - j + 1)
  (alpha = 1 - gate.confidence). At the first rank whose interval contains -max_drop Holm stops: that
  task and every later one are inconclusive, and later ones are shown at the stopping rank's level.
  So the verdict can always be read off the interval printed beside it.
- Too few examples (n < min_examples): inconclusive, not compared. gate.inconclusive decides what an
  inconclusive task does: block (the candidate fails) or allow (it passes, with a note).

Decisions that are not obvious:
- A task in the gate config but missing from the candidate's evaluation fails; so does an evaluated
  task without a gate entry (a new task needs a deliberate floor before it can reach production).
- No production model (first run), or production never had the task (new task): floor only, said so.
- Two evaluations of different examples are never compared: the task fails ("not compared"), whatever
  the inconclusive policy, since it means a stale or broken evaluation rather than noise.
- A floor failure fails the task even when the comparison passes; the comparison is still reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mtl.config import GateConfig, GateTask
from mtl.evaluation import PairedStats, paired_bootstrap, task_rng
from mtl.gate.holm import Comparison, holm
from mtl.gate.report import GateReport, GateRow, TaskVerdict, Verdict, fmt, pct, short

# Float noise must not turn "drop 0.01 <= max_drop 0.01" into a failure.
_TOLERANCE = 1e-9


def decide(
    candidate: dict[str, Any],
    production: dict[str, Any] | None,
    paired: dict[str, PairedStats],
    gate: GateConfig,
) -> GateReport:
    """candidate/production: evaluation dicts (mtl.evaluation.evaluate) on test; production None: first
    run. paired: task -> both models' per-example statistics on the test examples."""
    evaluated = candidate.get("per_task", {})
    in_production = production.get("per_task", {}) if production is not None else {}
    notes: list[str] = []
    rows: dict[str, GateRow] = {}
    pending: dict[str, _Pending] = {}
    for task in sorted(set(gate.tasks) | set(evaluated)):
        checked = _check_task(task, evaluated.get(task), production is not None, in_production.get(task),
                              paired.get(task), gate, notes)
        if isinstance(checked, GateRow):
            rows[task] = checked
        else:
            pending[task] = checked

    # Holm reads every task's replicates as "better minus worse" (sign applied), so one margin serves both.
    margins = {task: -p.entry.max_drop - _TOLERANCE for task, p in pending.items()}
    comparisons = holm({task: p.replicates for task, p in pending.items()}, margins, gate.confidence)
    for task, p in pending.items():
        rows[task] = _compared_row(task, p, comparisons[task])

    ordered = [rows[task] for task in sorted(rows)]
    if production is None:
        notes.insert(0, "No production model: first run, every task is checked against its floor only.")
    elif pending:
        notes.append(
            f"Paired bootstrap of candidate - production over the same test examples ({gate.n_bootstrap} "
            f"resamples, seed {gate.seed}); Holm across the {len(pending)} compared tasks at family-wise "
            f"confidence {gate.confidence:.0%}: the task at Holm rank j of m is judged on a two-sided "
            f"1 - {1 - gate.confidence:.3g}/(m - j + 1) interval."
        )
    dropped = sorted(set(in_production) - set(evaluated) - set(gate.tasks))
    if dropped:
        notes.append(f"Tasks in production but neither evaluated nor gated (dropped): {', '.join(dropped)}.")
    return GateReport(
        verdict=_overall(ordered, gate, notes),
        rows=ordered,
        first_run=production is None,
        confidence=candidate.get("bootstrap", {}).get("confidence"),
        policy={"test": "paired percentile bootstrap of candidate - production", "correction": "holm",
                "confidence": gate.confidence, "n_bootstrap": gate.n_bootstrap, "seed": gate.seed,
                "min_examples": gate.min_examples, "inconclusive": gate.inconclusive},
        notes=notes,
    )


# --- per task -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    """A task that goes to the paired comparison, with what its row needs afterwards."""

    entry: GateTask
    metric: str
    value: float
    ci: list[float] | None
    production: float | None
    n: int
    diff: float
    replicates: np.ndarray  # of the difference, times sign: larger is better for every metric
    sign: int
    failures: list[str]
    checks: list[str]


def _check_task(
    task: str,
    evaluated: dict[str, Any] | None,
    has_production: bool,
    in_production: dict[str, Any] | None,
    pair: PairedStats | None,
    gate: GateConfig,
    notes: list[str],
) -> GateRow | _Pending:
    entry = gate.tasks.get(task)
    if evaluated is None:
        return _row(task, entry.metric or "(kind default)", entry, "fail",
                    "missing: gated but not in the candidate's evaluation")
    if entry is None:
        return _row(task, evaluated["metric"], None, "fail", f"no gate: add gate.tasks.{task} (floor, max_drop) to params.yaml",
                    value=evaluated["value"], ci=evaluated.get("ci"), n=evaluated.get("n"))

    metric = entry.metric or evaluated["metric"]
    value = evaluated.get("metrics", {}).get(metric)
    ci = evaluated.get("intervals", {}).get(metric)
    n = evaluated.get("n")
    if value is None:
        return _row(task, metric, entry, "fail", f"the candidate's evaluation has no {metric} for this task", n=n)

    # sign: +1 where higher is better; -1 (MSE) where lower is: its floor is a ceiling, its drop a rise
    sign = -1 if metric in evaluated.get("lower_is_better", []) else 1
    failures, checks = [], []
    worse, better = ("<", ">=") if sign > 0 else (">", "<=")
    if sign * value < sign * entry.floor - _TOLERANCE:
        failures.append(f"{fmt(value)} {worse} floor {fmt(entry.floor)}")
    else:
        checks.append(f"{fmt(value)} {better} floor {fmt(entry.floor)}")
    min_examples = entry.min_examples or gate.min_examples
    too_few = n is None or n < min_examples
    few = f"too few examples: n={n} < min_examples {min_examples}"
    reference = (in_production or {}).get("metrics", {}).get(metric)

    def settled(why: list[str]) -> GateRow:
        verdict: TaskVerdict = "fail" if failures else "inconclusive" if too_few else "pass"
        reason = failures + ([few] if too_few else []) + checks + why
        return _row(task, metric, entry, verdict, "; ".join(reason), value=value, ci=ci, production=reference, n=n)

    if not has_production:
        return settled(["first run: no production model, floor only"])
    if in_production is None:
        return settled(["new task: not in production, floor only"])
    ours, theirs = evaluated.get("examples_sha256"), in_production.get("examples_sha256")
    if pair is None:
        failures.append("not compared: no per-example statistics of both models for this task")
        return settled([])
    if not ours or ours != theirs or ours != pair.examples_sha256:
        failures.append(
            f"not compared: scored on different examples (examples_sha256 candidate {short(ours)}, "
            f"production {short(theirs)}, paired {short(pair.examples_sha256)}); rerun `mtl evaluate` on the current data"
        )
        return settled([])
    if too_few:
        return settled(["not compared with production"])

    replicates = paired_bootstrap(pair.candidate, pair.production, pair.metrics_of,
                                  n_bootstrap=gate.n_bootstrap, rng=task_rng(gate.seed, task))[metric]
    rescored = pair.metrics_of(pair.candidate.sum(axis=0))[metric]
    if abs(rescored - value) > _TOLERANCE:
        notes.append(f"{task}: the re-predicted candidate scores {fmt(rescored)} but its evaluation says "
                     f"{fmt(value)}; the paired test used the re-predicted scores.")
    return _Pending(entry, metric, value, ci, reference, n, pair.difference()[metric], sign * replicates, sign,
                    failures, checks)


def _compared_row(task: str, p: _Pending, c: Comparison) -> GateRow:
    lo, hi = sorted(p.sign * x for x in c.interval)  # back to candidate - production, as shown
    shown = f"difference {p.diff:+.6g} [{lo:+.6g}, {hi:+.6g}] at {pct(c.confidence)} (Holm rank {c.rank}/{c.family})"
    limit = f"-max_drop {fmt(-p.entry.max_drop)}" if p.sign > 0 else f"+max_drop {fmt(p.entry.max_drop)} (lower is better)"
    if c.outcome == "pass":
        comparison = f"no drop beyond max_drop: {shown} {'>=' if p.sign > 0 else '<='} {limit}"
    elif c.outcome == "fail":
        comparison = (f"drop beyond max_drop: {shown} {'<' if p.sign > 0 else '>'} {limit} vs production "
                      f"{fmt(p.production)}")
    elif c.stopped_at is not None:
        comparison = (f"inconclusive: Holm stopped at {c.stopped_at} (an earlier rank whose interval contains "
                      f"-max_drop), so nothing after it is decided; {shown} vs {limit}")
    else:
        comparison = f"inconclusive: {shown} contains {limit}; a drop beyond max_drop cannot be told from noise"
    verdict: TaskVerdict = "fail" if p.failures else c.outcome
    return GateRow(task, p.metric, p.value, p.ci, p.production, p.diff, [lo, hi], c.confidence, c.p_value,
                   p.entry.floor, p.entry.max_drop, p.n, verdict, "; ".join([*p.failures, comparison, *p.checks]))


def _row(task: str, metric: str, entry: GateTask | None, verdict: TaskVerdict, reason: str, *, value=None,
         ci=None, production=None, n=None) -> GateRow:
    """A row without a paired comparison."""
    return GateRow(task, metric, value, ci, production, diff=None, diff_ci=None, diff_confidence=None,
                   p_value=None, floor=entry.floor if entry else None, max_drop=entry.max_drop if entry else None,
                   n=n, verdict=verdict, reason=reason)


def _overall(rows: list[GateRow], gate: GateConfig, notes: list[str]) -> Verdict:
    if not rows:
        notes.append("Nothing was evaluated or gated: nothing to promote.")
        return "fail"
    unsure = [row.task for row in rows if row.verdict == "inconclusive"]
    if any(row.verdict == "fail" for row in rows):
        return "fail"
    if not unsure:
        return "pass"
    if gate.inconclusive == "block":
        notes.append(f"Inconclusive ({', '.join(unsure)}) and gate.inconclusive is block: the candidate is "
                     "refused. More test examples, a larger max_drop or `mtl promote --force --reason` decide it.")
        return "fail"
    notes.append(f"Inconclusive ({', '.join(unsure)}) but gate.inconclusive is allow: passed WITHOUT evidence "
                 "that these tasks did not drop beyond max_drop.")
    return "pass"
