"""decide(): floors, non-regression, first run, new task, missing task, ungated task."""

from __future__ import annotations

import json

import pytest

from mtl.config import GateConfig, GateTask, Params, TaskConfig
from mtl.gate import decide

GATE = GateConfig(
    tasks={
        "pos": GateTask(metric="accuracy", floor=0.93, max_drop=0.01),
        "ner": GateTask(floor=0.15, max_drop=0.01),  # metric: the kind's default (entity_f1)
    }
)


def row(metric: str, value: float, **more: float) -> dict:
    return {"metric": metric, "value": value, "ci": [value - 0.01, value + 0.01], "n": 100,
            "metrics": {metric: value, **more}, "intervals": {metric: [value - 0.01, value + 0.01]}}


def evaluation(**per_task: dict) -> dict:
    return {"overall": {}, "bootstrap": {"confidence": 0.95}, "per_task": per_task}


def by_task(report) -> dict:
    return {r.task: r for r in report.rows}


def test_pass_against_production():
    candidate = evaluation(pos=row("accuracy", 0.95), ner=row("entity_f1", 0.40))
    production = evaluation(pos=row("accuracy", 0.955), ner=row("entity_f1", 0.38))
    report = decide(candidate, production, GATE)
    assert report.verdict == "pass" and report.passed and not report.first_run
    rows = by_task(report)
    assert rows["pos"].production == 0.955
    assert rows["pos"].reason == "0.95 >= floor 0.93; drop 0.005 <= max_drop 0.01 vs production 0.955"
    assert rows["ner"].metric == "entity_f1" and "+0.02 vs production 0.38" in rows["ner"].reason


def test_drop_exactly_max_drop_passes_despite_float_noise():
    report = decide(evaluation(pos=row("accuracy", 0.94), ner=row("entity_f1", 0.3)),
                    evaluation(pos=row("accuracy", 0.95), ner=row("entity_f1", 0.3)), GATE)
    assert by_task(report)["pos"].verdict == "pass"


def test_floor_failure():
    report = decide(evaluation(pos=row("accuracy", 0.912), ner=row("entity_f1", 0.4)), None, GATE)
    assert report.verdict == "fail"
    assert by_task(report)["pos"].verdict == "fail"
    assert by_task(report)["pos"].reason.startswith("0.912 < floor 0.93")
    assert by_task(report)["ner"].verdict == "pass"


def test_regression_failure():
    report = decide(evaluation(pos=row("accuracy", 0.945), ner=row("entity_f1", 0.4)),
                    evaluation(pos=row("accuracy", 0.976), ner=row("entity_f1", 0.4)), GATE)
    pos = by_task(report)["pos"]
    assert report.verdict == "fail" and pos.verdict == "fail"
    assert pos.reason.startswith("drop 0.031 > max_drop 0.01 vs production 0.976")


def test_first_run_is_floor_only():
    report = decide(evaluation(pos=row("accuracy", 0.94), ner=row("entity_f1", 0.2)), None, GATE)
    assert report.verdict == "pass" and report.first_run
    assert all("first run: no production model, floor only" in r.reason for r in report.rows)
    assert all(r.production is None for r in report.rows)
    assert "No production model" in report.to_markdown()


def test_new_task_is_floor_only():
    report = decide(evaluation(pos=row("accuracy", 0.94), ner=row("entity_f1", 0.2)),
                    evaluation(pos=row("accuracy", 0.94)), GATE)
    ner = by_task(report)["ner"]
    assert report.verdict == "pass" and ner.production is None
    assert "new task: not in production, floor only" in ner.reason


def test_gated_task_missing_from_candidate_fails():
    report = decide(evaluation(pos=row("accuracy", 0.99)), None, GATE)
    assert report.verdict == "fail"
    assert by_task(report)["ner"].verdict == "fail" and "missing" in by_task(report)["ner"].reason


def test_evaluated_task_without_gate_entry_fails():
    candidate = evaluation(pos=row("accuracy", 0.99), ner=row("entity_f1", 0.9), extra=row("accuracy", 1.0))
    report = decide(candidate, None, GATE)
    assert report.verdict == "fail"
    assert by_task(report)["extra"].verdict == "fail"
    assert "no gate" in by_task(report)["extra"].reason


def test_gate_metric_other_than_primary_uses_its_value():
    gate = GateConfig(tasks={"q": GateTask(metric="macro_f1", floor=0.5)})
    report = decide(evaluation(q=row("accuracy", 0.9, macro_f1=0.45)), None, gate)
    q = by_task(report)["q"]
    assert q.metric == "macro_f1" and q.value == 0.45 and q.verdict == "fail" and q.ci is None


def test_nothing_to_decide_fails():
    assert decide(evaluation(), None, GateConfig()).verdict == "fail"


def test_report_serialises_and_renders():
    report = decide(evaluation(pos=row("accuracy", 0.912), ner=row("entity_f1", 0.4)),
                    evaluation(pos=row("accuracy", 0.95), ner=row("entity_f1", 0.4)), GATE)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] == "fail" and data["first_run"] is False
    assert {r["task"] for r in data["rows"]} == {"pos", "ner"}
    assert set(data["rows"][0]) == {"task", "metric", "value", "ci", "floor", "max_drop", "production",
                                    "verdict", "reason"}
    text = report.to_markdown()
    assert "| task | metric | value [95% CI] | floor | production | verdict | reason |" in text
    assert "| pos | accuracy | 0.912 [0.902, 0.922] | 0.93 | 0.95 | fail |" in text
    assert "**Overall: fail** (failing: pos)" in text


def test_params_reject_gate_typos():
    tasks = {"pos": TaskConfig(kind="tagging"), "ner": TaskConfig(kind="tagging", scheme="bio")}
    Params(corpora={}, tasks=tasks, gate=GATE)
    with pytest.raises(ValueError, match="not declared"):
        Params(corpora={}, tasks=tasks, gate=GateConfig(tasks={"poss": GateTask(floor=0.9)}))
    with pytest.raises(ValueError, match="unknown metric"):
        Params(corpora={}, tasks=tasks, gate=GateConfig(tasks={"pos": GateTask(metric="entity_f1")}))
