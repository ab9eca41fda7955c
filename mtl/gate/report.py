"""The gate's report: one row per task (metric, value, interval, production, paired difference, floor, verdict,
reason), and how it is rendered: gate.md (Markdown) and the flat rows of a Prefect table artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail"]
TaskVerdict = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class GateRow:
    task: str
    metric: str
    value: float | None  # the candidate's point estimate; None: no such metric for this task
    ci: list[float] | None  # the candidate's interval from its evaluation
    production: float | None  # None: no production model, or it lacks the task
    diff: float | None  # candidate - production on the same examples; None: not compared
    diff_ci: list[float] | None  # paired bootstrap interval of diff at diff_confidence
    diff_confidence: float | None  # Holm-adjusted level of diff_ci
    p_value: float | None  # unadjusted bootstrap p of "diff == -max_drop" (Holm sorts on it)
    floor: float | None  # None: the task has no gate entry
    max_drop: float | None
    n: int | None  # test examples
    verdict: TaskVerdict
    reason: str


@dataclass(frozen=True)
class GateReport:
    verdict: Verdict
    rows: list[GateRow]
    first_run: bool  # no production model to compare against
    confidence: float | None = None  # of the candidate's intervals, from its evaluation
    policy: dict[str, Any] = field(default_factory=dict)  # how the comparison was made
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "first_run": self.first_run,
            "confidence": self.confidence,
            "policy": dict(self.policy),
            "rows": [asdict(row) for row in self.rows],
            "notes": list(self.notes),
        }

    def to_markdown(self) -> str:
        level = f"{self.confidence:.0%} CI" if self.confidence is not None else "CI"
        lines = [
            f"## Gate: {self.verdict.upper()}",
            "",
            f"| task | metric | candidate [{level}] | production | difference [lo, hi] (Holm level) "
            "| floor | max_drop | n | verdict | reason |",
            "|---|---|---|---:|---|---:|---:|---:|---|---|",
        ]
        for row in table_rows(self.to_dict()):
            lines.append("| " + " | ".join(_cell(row[key]) for key in _COLUMNS) + " |")
        failed = [row.task for row in self.rows if row.verdict == "fail"]
        unsure = [row.task for row in self.rows if row.verdict == "inconclusive"]
        summary = [f"failing: {', '.join(failed)}"] * bool(failed) + [f"inconclusive: {', '.join(unsure)}"] * bool(unsure)
        lines += ["", f"**Overall: {self.verdict}**" + (f" ({'; '.join(summary)})" if summary else "")]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


_COLUMNS = ("task", "metric", "candidate", "production", "difference", "floor", "max_drop", "n", "verdict", "reason")


def table_rows(gate: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat dict per task (the columns of gate.md), for a Prefect table artifact:
    create_table_artifact(table=table_rows(json.loads(gate_json)), key="gate-rows")."""
    rows = []
    for row in gate["rows"]:
        candidate = fmt(row["value"]) + (f" [{fmt(row['ci'][0])}, {fmt(row['ci'][1])}]" if row["ci"] else "")
        difference = "-"
        if row["diff"] is not None:
            difference = f"{row['diff']:+.6g}"
            if row["diff_ci"] is not None:
                lo, hi = row["diff_ci"]
                difference += f" [{lo:+.6g}, {hi:+.6g}] ({pct(row['diff_confidence'])})"
        rows.append({
            "task": row["task"], "metric": row["metric"], "candidate": candidate,
            "production": fmt(row["production"]), "difference": difference, "floor": fmt(row["floor"]),
            "max_drop": fmt(row["max_drop"]), "n": "-" if row["n"] is None else row["n"],
            "verdict": row["verdict"], "reason": row["reason"],
        })
    return rows


def fmt(number: float | None) -> str:
    # Six significant digits: enough that a value just under its floor never prints as equal to it.
    return "-" if number is None else f"{number:.6g}"


def pct(level: float) -> str:
    return f"{100 * level:.4g}%"


def short(sha: str | None) -> str:
    return "none" if not sha else sha[:12]


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")
