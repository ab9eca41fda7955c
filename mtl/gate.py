"""Gate: the promotion decision, a pure function of two evaluation dicts and the thresholds.

A task passes when its metric clears the absolute floor AND (when the production model was evaluated on
that task) has not dropped by more than max_drop against production. The candidate passes only if
every task passes. Every row carries its reason, so the decision can be read afterwards (gate.json,
gate.md) without rerunning anything.

Decisions that are not obvious:
- A task in the gate config but missing from the candidate's evaluation fails: a gated task that was
  not evaluated cannot be shown to be good enough.
- A task the candidate was evaluated on but with no gate entry fails too: a new task must get a
  deliberate floor in params.yaml before it can reach production; nothing is promoted unchecked.
- No production model (first run), or production never had the task (new task): floor only, said so.
- The comparison uses point estimates; the interval is reported, not used (a drop inside the noise of
  a small dev set can still block a promotion: set max_drop with the interval widths in mind).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mtl.config import GateConfig

Verdict = Literal["pass", "fail"]
# Float noise must not turn "drop 0.01 <= max_drop 0.01" into a failure.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GateRow:
    task: str
    metric: str
    value: float | None  # None: the candidate has no such metric for this task
    ci: list[float] | None
    floor: float | None  # None: the task has no gate entry
    max_drop: float | None
    production: float | None  # None: no production model, or it lacks the task or metric
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class GateReport:
    verdict: Verdict
    rows: list[GateRow]
    first_run: bool  # no production model to compare against
    confidence: float | None = None  # of the intervals, from the candidate's evaluation
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "first_run": self.first_run,
            "confidence": self.confidence,
            "rows": [asdict(row) for row in self.rows],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        level = f"{self.confidence:.0%} CI" if self.confidence is not None else "CI"
        lines = [
            f"## Gate: {self.verdict.upper()}",
            "",
            f"| task | metric | value [{level}] | floor | production | verdict | reason |",
            "|---|---|---|---:|---:|---|---|",
        ]
        for row in self.rows:
            value = _fmt(row.value)
            if row.ci is not None:
                value += f" [{_fmt(row.ci[0])}, {_fmt(row.ci[1])}]"
            lines.append(
                f"| {row.task} | {row.metric} | {value} | {_fmt(row.floor)} | {_fmt(row.production)} "
                f"| {row.verdict} | {row.reason} |"
            )
        failed = [row.task for row in self.rows if row.verdict == "fail"]
        lines += ["", f"**Overall: {self.verdict}**" + (f" (failing: {', '.join(failed)})" if failed else "")]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def decide(candidate: dict[str, Any], production: dict[str, Any] | None, gate: GateConfig) -> GateReport:
    """candidate/production: evaluation dicts from mtl.evaluation.evaluate (production None: first run)."""
    evaluated = candidate.get("per_task", {})
    in_production = production.get("per_task", {}) if production is not None else {}
    rows = [
        _decide_task(task, evaluated.get(task), production, in_production.get(task), gate)
        for task in sorted(set(gate.tasks) | set(evaluated))
    ]
    notes = []
    if production is None:
        notes.append("No production model: first run, every task is checked against its floor only.")
    dropped = sorted(set(in_production) - set(evaluated) - set(gate.tasks))
    if dropped:
        notes.append(f"Tasks in production but neither evaluated nor gated (dropped): {', '.join(dropped)}.")
    verdict: Verdict = "pass" if rows and all(row.verdict == "pass" for row in rows) else "fail"
    if not rows:
        notes.append("Nothing was evaluated or gated: nothing to promote.")
    return GateReport(
        verdict=verdict,
        rows=rows,
        first_run=production is None,
        confidence=candidate.get("bootstrap", {}).get("confidence"),
        notes=notes,
    )


def _decide_task(
    task: str,
    evaluated: dict[str, Any] | None,
    production: dict[str, Any] | None,
    in_production: dict[str, Any] | None,
    gate: GateConfig,
) -> GateRow:
    entry = gate.tasks.get(task)
    if evaluated is None:
        return GateRow(task, entry.metric or "(kind default)", None, None, entry.floor, entry.max_drop, None,
                       "fail", "missing: gated but not in the candidate's evaluation")
    if entry is None:
        return GateRow(task, evaluated["metric"], evaluated["value"], evaluated.get("ci"), None, None, None,
                       "fail", f"no gate: add gate.tasks.{task} (floor, max_drop) to params.yaml")

    metric = entry.metric or evaluated["metric"]
    value = evaluated.get("metrics", {}).get(metric)
    ci = evaluated.get("intervals", {}).get(metric)
    if value is None:
        return GateRow(task, metric, None, None, entry.floor, entry.max_drop, None,
                       "fail", f"the candidate's evaluation has no {metric} for this task")

    failures, checks = [], []
    if value < entry.floor - _TOLERANCE:
        failures.append(f"{_fmt(value)} < floor {_fmt(entry.floor)}")
    else:
        checks.append(f"{_fmt(value)} >= floor {_fmt(entry.floor)}")

    reference = None
    if production is None:
        checks.append("first run: no production model, floor only")
    elif in_production is None:
        checks.append("new task: not in production, floor only")
    elif (reference := in_production.get("metrics", {}).get(metric)) is None:
        checks.append(f"production has no {metric} for this task, floor only")
    else:
        drop = reference - value
        comparison = f"vs production {_fmt(reference)}"
        if drop > entry.max_drop + _TOLERANCE:
            failures.append(f"drop {_fmt(drop)} > max_drop {_fmt(entry.max_drop)} {comparison}")
        elif drop >= 0:
            checks.append(f"drop {_fmt(drop)} <= max_drop {_fmt(entry.max_drop)} {comparison}")
        else:
            checks.append(f"+{_fmt(-drop)} {comparison}")

    verdict: Verdict = "fail" if failures else "pass"
    return GateRow(task, metric, value, ci, entry.floor, entry.max_drop, reference, verdict,
                   "; ".join(failures + checks))


def _fmt(number: float | None) -> str:
    # Six significant digits: enough that a value just under its floor never prints as equal to it.
    return "-" if number is None else f"{number:.6g}"
