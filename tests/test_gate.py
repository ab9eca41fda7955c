"""decide(): floors, first run, new task, missing and ungated tasks, the report's shapes, the config.

The evaluations are real: synthetic gold/predicted lists through mtl.evaluation (and so through the task
kinds' example_stats), never hand-written metric dicts. The paired comparison itself is in
test_gate_paired.py; the helpers here are shared with it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mtl.config import GateConfig, GateTask, Params
from mtl.evaluation import evaluate, paired_stats
from mtl.gate import decide, table_rows
from mtl.tasks import task_options
from mtl.tasks.kind import TaskOptions

SENTIMENT = task_options(kind="classification", labels=["0", "1"])
NER = task_options(kind="tagging", scheme="bio", labels=["O", "B-per", "I-per"])
ENTITY = ["B-per", "I-per", "O", "O"]


def flip(label: str) -> str:
    return "1" if label == "0" else "0"


def classification(n: int, wrong: int, *, wins: int = 0, losses: int = 0):
    """(gold, candidate, production) labels: production is wrong on the first `wrong` examples; the
    candidate fixes the first `wins` of those and gets the next `losses` (right in production) wrong."""
    gold = ["0" if i % 2 else "1" for i in range(n)]
    production = [flip(y) if i < wrong else y for i, y in enumerate(gold)]
    candidate = list(production)
    for i in range(wins):
        candidate[i] = gold[i]
    for i in range(wrong, wrong + losses):
        candidate[i] = flip(gold[i])
    return gold, candidate, production


def entities(n: int, missed: int, *, losses: int = 0):
    """(gold, candidate, production) tag sequences with one entity each: production misses the first
    `missed` entities, the candidate also the next `losses`."""
    gold = [list(ENTITY) for _ in range(n)]
    production = [["O"] * 4 if i < missed else list(ENTITY) for i in range(n)]
    candidate = [["O"] * 4 if i < missed + losses else list(ENTITY) for i in range(n)]
    return gold, candidate, production


def inputs(data: dict[str, tuple], *, configs: dict[str, TaskOptions] | None = None, production: bool = True):
    """decide()'s first three arguments from {task: (gold, candidate, production)} predictions."""
    configs = configs or {task: SENTIMENT if isinstance(d[0][0], str) else NER for task, d in data.items()}
    labels = {task: cfg.labels for task, cfg in configs.items()}
    scores = lambda which: evaluate({t: d[0] for t, d in data.items()}, {t: d[which] for t, d in data.items()},
                                    configs, labels, n_bootstrap=200)
    if not production:
        return scores(1), None, {}
    paired = {t: paired_stats(d[0], d[1], d[2], configs[t], labels[t]) for t, d in data.items()}
    return scores(1), scores(2), paired


def gate(min_examples: int = 100, **tasks: GateTask) -> GateConfig:
    return GateConfig(tasks=tasks, min_examples=min_examples)


def by_task(report) -> dict:
    return {r.task: r for r in report.rows}


# --- floors -------------------------------------------------------------------------------------


def test_floor_is_checked_on_the_point_estimate():
    # 0.9 exactly at the floor passes although its interval reaches below it (documented: point estimate).
    report = decide(*inputs({"s": classification(200, 20)}, production=False), gate(s=GateTask(floor=0.9)))
    s = by_task(report)["s"]
    assert s.value == pytest.approx(0.9) and s.ci[0] < 0.9
    assert s.verdict == "pass" and s.reason.startswith("0.9 >= floor 0.9")


def test_floor_failure_fails_even_when_nothing_dropped():
    report = decide(*inputs({"s": classification(200, 30)}), gate(s=GateTask(floor=0.9, max_drop=0.01)))
    s = by_task(report)["s"]
    assert report.verdict == "fail" and s.verdict == "fail"
    assert s.reason.startswith("0.85 < floor 0.9; no drop beyond max_drop")
    assert s.diff == 0.0, "the comparison is still made and reported"


def test_first_run_is_floor_only():
    data = {"s": classification(200, 10), "ner": entities(200, 20)}
    report = decide(*inputs(data, production=False), gate(s=GateTask(floor=0.9), ner=GateTask(floor=0.5)))
    assert report.verdict == "pass" and report.first_run
    assert all("first run: no production model, floor only" in r.reason for r in report.rows)
    assert all(r.production is None and r.diff is None for r in report.rows)
    assert by_task(report)["ner"].metric == "entity_f1", "the kind's default metric"
    assert "No production model: first run" in report.to_markdown()


def test_first_run_with_too_few_examples_is_inconclusive():
    report = decide(*inputs({"s": classification(50, 0)}, production=False), gate(s=GateTask(floor=0.0)))
    assert by_task(report)["s"].verdict == "inconclusive"
    assert by_task(report)["s"].reason.startswith("too few examples: n=50 < min_examples 100")
    assert report.verdict == "fail", "the default policy blocks"


# --- tasks missing on one side ------------------------------------------------------------------


def test_gated_task_missing_from_candidate_fails():
    report = decide(*inputs({"s": classification(200, 0)}), gate(s=GateTask(floor=0.0), ner=GateTask(floor=0.0)))
    assert report.verdict == "fail"
    assert by_task(report)["ner"].verdict == "fail" and "missing" in by_task(report)["ner"].reason


def test_evaluated_task_without_gate_entry_fails():
    data = {"s": classification(200, 0), "extra": classification(200, 0)}
    report = decide(*inputs(data), gate(s=GateTask(floor=0.0)))
    assert report.verdict == "fail"
    assert by_task(report)["extra"].verdict == "fail" and "no gate" in by_task(report)["extra"].reason


def test_task_dropped_from_candidate_and_gate_is_noted():
    candidate, production, paired = inputs({"s": classification(200, 0), "old": classification(200, 0)})
    del candidate["per_task"]["old"]
    report = decide(candidate, production, paired, gate(s=GateTask(floor=0.0)))
    assert report.verdict == "pass"
    assert any("dropped): old" in note for note in report.notes)


def test_gate_metric_other_than_primary():
    question = task_options(kind="classification", labels=["a", "b", "c"])
    gold = ["a"] * 180 + ["b"] * 10 + ["c"] * 10
    pred = ["a"] * 200  # 90% accuracy, but b and c never found
    data = {"q": (gold, pred, pred)}
    report = decide(*inputs(data, configs={"q": question}), gate(q=GateTask(metric="macro_f1", floor=0.5)))
    q = by_task(report)["q"]
    assert q.metric == "macro_f1" and q.value == pytest.approx(0.947368 / 3, abs=1e-6)
    assert q.verdict == "fail" and q.reason.startswith("0.315789 < floor 0.5")


def test_nothing_to_decide_fails():
    report = decide({"per_task": {}}, None, {}, GateConfig(tasks={}))
    assert report.verdict == "fail" and "Nothing was evaluated" in report.notes[-1]


# --- the report ---------------------------------------------------------------------------------


def test_report_serialises_and_renders():
    data = {"s": classification(2000, 100, losses=40), "ner": entities(500, 50)}
    report = decide(*inputs(data), gate(s=GateTask(floor=0.8, max_drop=0.005), ner=GateTask(floor=0.5)))
    gate_json = json.loads(json.dumps(report.to_dict()))
    assert set(gate_json) == {"verdict", "first_run", "confidence", "policy", "rows", "notes"}
    assert gate_json["verdict"] == "fail" and gate_json["first_run"] is False
    assert gate_json["policy"]["correction"] == "holm" and gate_json["policy"]["inconclusive"] == "block"
    assert set(gate_json["rows"][0]) == {"task", "metric", "value", "ci", "production", "diff", "diff_ci",
                                         "diff_confidence", "p_value", "floor", "max_drop", "n", "verdict", "reason"}
    text = report.to_markdown()
    assert ("| task | metric | candidate [95% CI] | production | difference [lo, hi] (Holm level) "
            "| floor | max_drop | n | verdict | reason |") in text
    s = by_task(report)["s"]
    assert f"| s | accuracy | 0.93 [{s.ci[0]:.6g}, {s.ci[1]:.6g}] | 0.95 | -0.02 [" in text
    # Both p-values are 0; ties go by name: ner is Holm rank 1 of 2 (97.5%), s rank 2 (95%).
    assert "| +0 [+0, +0] (97.5%) | 0.5 | 0.01 | 500 | pass |" in text
    assert "(95%) | 0.8 | 0.005 | 2000 | fail | drop beyond max_drop" in text
    assert "**Overall: fail** (failing: s)" in text


def test_table_rows_for_an_artifact():
    report = decide(*inputs({"s": classification(200, 10)}), gate(s=GateTask(floor=0.5)))
    rows = table_rows(report.to_dict())
    assert [row["task"] for row in rows] == ["s"]
    assert list(rows[0]) == ["task", "metric", "candidate", "production", "difference", "floor", "max_drop", "n",
                             "verdict", "reason"]
    assert rows[0]["difference"] == "+0 [+0, +0] (95%)" and rows[0]["verdict"] == "pass"
    json.dumps(rows)  # plain JSON for Prefect


# --- configuration ------------------------------------------------------------------------------


def test_params_reject_gate_typos_and_tasks_without_a_gate_or_a_corpus():
    from tests.training.conftest import params_tasks

    section = params_tasks()
    Params.model_validate(section)
    for mutate, message in (
        (lambda d: d["gate"]["tasks"].update(poss={"floor": 0.9}), r"gate.tasks.poss: task 'poss' is not declared"),
        (lambda d: d["gate"]["tasks"]["pos"].update(metric="entity_f1"), r"gate.tasks.pos.metric: unknown metric"),
        (lambda d: d["gate"]["tasks"].pop("ner"), r"gate.tasks: task 'ner' has no gate entry"),
        (lambda d: d["corpora"].pop("corpus_question"), r"tasks.question: no corpus feeds this task"),
        (lambda d: d["gate"]["tasks"]["pos"].pop("floor"), r"floor"),
    ):
        data = json.loads(json.dumps(section))
        mutate(data)
        with pytest.raises(ValueError, match=message):
            Params.model_validate(data)
    with pytest.raises(ValueError):
        GateConfig(tasks={}, inconclusive="warn")
    with pytest.raises(ValueError):
        GateConfig(tasks={}, min_exampels=10)
    with pytest.raises(ValueError):
        GateTask(floor=0.0, min_examples=0)


def test_a_lower_is_better_metric_is_gated_as_a_ceiling_and_a_rise():
    """MSE: the floor is a ceiling, and a rise (not a drop) beyond max_drop fails."""
    relatedness = task_options("regression", texts=2, range=[1.0, 5.0])
    rng = np.random.default_rng(0)
    gold = rng.uniform(1, 5, 400).tolist()
    good = [g + rng.normal(0, 0.3) for g in gold]
    worse = [g + rng.normal(0, 0.9) for g in gold]
    configs, labels = {"r": relatedness}, {"r": []}
    gate_mse = GateConfig(tasks={"r": GateTask(metric="mse", floor=0.5, max_drop=0.05)}, min_examples=100)
    for pred, verdict in ((good, "pass"), (worse, "fail")):
        candidate = evaluate({"r": gold}, {"r": pred}, configs, labels, n_bootstrap=0)
        production = evaluate({"r": gold}, {"r": good}, configs, labels, n_bootstrap=0)
        paired = {"r": paired_stats(gold, pred, good, relatedness, [])}
        report = decide(candidate, production, paired, gate_mse)
        [row] = report.rows
        assert row.metric == "mse" and row.verdict == verdict, row.reason
    assert "> floor 0.5" in row.reason and "+max_drop 0.05 (lower is better)" in row.reason
