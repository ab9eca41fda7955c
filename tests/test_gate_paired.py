"""Champion/challenger: the paired test against production, Holm across tasks, the inconclusive policy,
and the audited `mtl promote --force --reason`.

Every case is built from synthetic per-example predictions (gold/candidate/production lists) fed through
the real kinds' example_stats; no model is trained. max_drop is 0.5 points (0.005) throughout.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from mtl.cli import app
from mtl.config import GateTask, Params, load_params
from mtl.evaluation import paired_bootstrap, paired_stats, task_rng
from mtl.gate import decide
from mtl.registry import open_registry
from mtl.stages.promote import PromotionRefused, promote_candidate
from tests.test_gate import NER, SENTIMENT, by_task, classification, entities, gate, inputs

HALF_POINT = GateTask(floor=0.0, max_drop=0.005)


# --- the three reference cases ------------------------------------------------------------------


def test_identical_candidate_passes():
    data = {"sentiment": classification(2000, 150), "ner": entities(500, 60)}
    report = decide(*inputs(data), gate(sentiment=HALF_POINT, ner=HALF_POINT))
    assert report.verdict == "pass"
    for row in report.rows:
        assert row.verdict == "pass" and row.diff == 0.0 and row.diff_ci == [0.0, 0.0]
        assert row.reason.startswith("no drop beyond max_drop")


def test_two_points_worse_on_one_task_of_2000_fails():
    data = {"sentiment": classification(2000, 150, losses=40), "ner": entities(500, 60)}
    report = decide(*inputs(data), gate(sentiment=HALF_POINT, ner=HALF_POINT))
    rows = by_task(report)
    assert report.verdict == "fail"
    assert rows["sentiment"].verdict == "fail" and rows["sentiment"].diff == pytest.approx(-0.02)
    assert rows["sentiment"].diff_ci[1] < -0.005, "the whole interval lies below -max_drop"
    assert rows["sentiment"].reason.startswith("drop beyond max_drop: difference -0.02 [")
    assert rows["ner"].verdict == "pass", "the other task is unaffected"


def test_one_example_worse_on_200_is_inconclusive():
    report = decide(*inputs({"sentiment": classification(200, 20, losses=1)}), gate(sentiment=HALF_POINT))
    row = report.rows[0]
    assert row.verdict == "inconclusive" and row.diff == pytest.approx(-0.005)
    lo, hi = row.diff_ci
    assert lo < -0.005 <= hi
    assert "contains -max_drop -0.005; a drop beyond max_drop cannot be told from noise" in row.reason
    assert report.verdict == "fail", "inconclusive blocks by default"


def test_entity_f1_drop_is_tested_through_its_sufficient_statistics():
    report = decide(*inputs({"ner": entities(1000, 100, losses=60)}), gate(ner=HALF_POINT))
    ner = report.rows[0]
    assert ner.metric == "entity_f1" and ner.verdict == "fail"
    assert ner.diff == pytest.approx(2 * 840 / 1840 - 2 * 900 / 1900)


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_turns_a_borderline_pass_inconclusive_when_several_tasks_are_tested():
    # 10 wins and 10 losses in 2000 examples: no drop, but only ~2 standard errors from -max_drop.
    borderline = classification(2000, 100, wins=10, losses=10)
    alone = decide(*inputs({"a": borderline}), gate(a=HALF_POINT))
    assert alone.verdict == "pass" and alone.rows[0].diff_confidence == pytest.approx(0.95)
    assert 0.0125 < alone.rows[0].p_value < 0.05, "significant alone, not at Holm's first level for 4 tasks"

    tasks = ("a", "b", "c", "d")
    together = decide(*inputs({t: borderline for t in tasks}), gate(**{t: HALF_POINT for t in tasks}))
    assert together.verdict == "fail"
    assert [row.verdict for row in together.rows] == ["inconclusive"] * 4
    first = min(together.rows, key=lambda row: row.p_value)
    assert first.diff_confidence == pytest.approx(1 - 0.05 / 4), "rank 1 of 4 is judged at 98.75%"
    assert first.diff_ci[0] < -0.005, "the wider interval now reaches past -max_drop"
    others = [row for row in together.rows if row is not first]
    assert all(f"Holm stopped at {first.task}" in row.reason for row in others)
    assert all(row.diff_confidence == pytest.approx(0.9875) for row in others), "shown at the stopping level"


def test_holm_keeps_clear_verdicts_clear():
    data = {"same": classification(2000, 100), "worse": classification(2000, 100, losses=60),
            "borderline": classification(2000, 100, wins=10, losses=10)}
    report = decide(*inputs(data), gate(**{t: HALF_POINT for t in data}))
    rows = by_task(report)
    assert (rows["same"].verdict, rows["worse"].verdict, rows["borderline"].verdict) == ("pass", "fail", "pass")
    assert rows["borderline"].diff_confidence == pytest.approx(0.95), "the last rank keeps the unadjusted level"


# --- cases that are not compared ----------------------------------------------------------------


def test_too_few_examples_is_inconclusive_with_that_reason():
    report = decide(*inputs({"s": classification(80, 0)}), gate(s=HALF_POINT))
    row = report.rows[0]
    assert row.verdict == "inconclusive" and row.diff is None and row.diff_ci is None
    assert row.reason.startswith("too few examples: n=80 < min_examples 100")
    assert "not compared with production" in row.reason
    per_task = GateTask(floor=0.0, max_drop=0.005, min_examples=50)
    assert decide(*inputs({"s": classification(80, 0)}), gate(s=per_task)).rows[0].verdict == "pass"


def test_evaluations_of_different_examples_are_not_compared():
    candidate, _, _ = inputs({"s": classification(400, 20)})
    other = classification(400, 20)[0][::-1]  # the same labels, another order: other examples
    _, production, paired = inputs({"s": (other, other, other)})
    report = decide(candidate, production, paired, gate(s=HALF_POINT))
    row = report.rows[0]
    assert row.verdict == "fail" and row.diff is None
    assert row.reason.startswith("not compared: scored on different examples (examples_sha256 candidate")

    # Per-example statistics of other examples than the evaluations are refused the same way.
    candidate, production, _ = inputs({"s": classification(400, 20)})
    report = decide(candidate, production, paired, gate(s=HALF_POINT))
    assert report.rows[0].reason.startswith("not compared")


def test_new_task_is_gated_by_its_floor_alone():
    candidate, production, paired = inputs({"s": classification(400, 20), "ner": entities(400, 40)})
    del production["per_task"]["ner"], paired["ner"]
    report = decide(candidate, production, paired, gate(s=HALF_POINT, ner=GateTask(floor=0.95)))
    ner = by_task(report)["ner"]
    assert ner.production is None and ner.diff is None
    assert ner.verdict == "fail" and ner.reason == "0.947368 < floor 0.95; new task: not in production, floor only"
    report = decide(candidate, production, paired, gate(s=HALF_POINT, ner=GateTask(floor=0.9)))
    assert by_task(report)["ner"].verdict == "pass" and report.verdict == "pass"


def test_first_run_is_floors_only_and_says_so():
    report = decide(*inputs({"s": classification(400, 20, losses=200)}, production=False), gate(s=HALF_POINT))
    assert report.first_run and report.verdict == "pass"
    assert report.rows[0].reason.endswith("first run: no production model, floor only")
    assert report.notes[0].startswith("No production model: first run")


# --- the inconclusive policy --------------------------------------------------------------------


def test_inconclusive_policy_block_fails_and_allow_passes_with_a_note():
    data = {"s": classification(200, 20, losses=1), "ner": entities(500, 50)}
    tasks = {"s": HALF_POINT, "ner": HALF_POINT}
    blocked = decide(*inputs(data), gate(**tasks))
    assert blocked.verdict == "fail" and by_task(blocked)["s"].verdict == "inconclusive"
    assert any("gate.inconclusive is block" in note for note in blocked.notes)
    assert "**Overall: fail** (inconclusive: s)" in blocked.to_markdown()

    allowed = decide(*inputs(data), gate(**tasks).model_copy(update={"inconclusive": "allow"}))
    assert allowed.verdict == "pass" and by_task(allowed)["s"].verdict == "inconclusive"
    assert any("gate.inconclusive is allow: passed WITHOUT evidence" in note for note in allowed.notes)


def test_allow_never_lets_a_fail_through():
    data = {"s": classification(2000, 100, losses=40)}
    report = decide(*inputs(data), gate(s=HALF_POINT).model_copy(update={"inconclusive": "allow"}))
    assert report.verdict == "fail"


# --- the paired bootstrap -----------------------------------------------------------------------


def test_paired_bootstrap_is_seeded_paired_and_covers_every_metric():
    gold, candidate, production = classification(300, 30, wins=5, losses=15)
    pair = paired_stats(gold, candidate, production, SENTIMENT, SENTIMENT.labels)
    draw = lambda seed: paired_bootstrap(pair.candidate, pair.production, pair.metrics_of, n_bootstrap=500,
                                         rng=task_rng(seed, "s"))
    first, again, other = draw(0), draw(0), draw(1)
    assert set(first) == {"accuracy", "macro_f1"} and first["accuracy"].shape == (500,)
    assert np.array_equal(first["accuracy"], again["accuracy"])
    assert not np.array_equal(first["accuracy"], other["accuracy"])
    # Resampling both models on the same draw: the spread comes from the 20 discordant examples only,
    # sd ~ sqrt(20)/300 ~ 0.015, far below an unpaired bootstrap's ~ sqrt(2 * 0.9 * 0.1 / 300) ~ 0.024.
    assert first["accuracy"].mean() == pytest.approx(pair.difference()["accuracy"], abs=0.003)
    assert 0.010 < first["accuracy"].std() < 0.019

    same = paired_stats(gold, production, production, SENTIMENT, SENTIMENT.labels)
    zero = paired_bootstrap(same.candidate, same.production, same.metrics_of, n_bootstrap=50, rng=task_rng(0, "s"))
    assert not zero["accuracy"].any() and not zero["macro_f1"].any()

    ner = paired_stats(*entities(50, 5, losses=5), NER, NER.labels)
    assert set(paired_bootstrap(ner.candidate, ner.production, ner.metrics_of, n_bootstrap=10,
                                rng=task_rng(0, "ner"))) == {"accuracy", "entity_precision", "entity_recall", "entity_f1"}
    with pytest.raises(ValueError, match="same shape"):
        paired_bootstrap(pair.candidate, pair.production[:-1], pair.metrics_of, n_bootstrap=10, rng=task_rng(0, "s"))


# --- the audited override -----------------------------------------------------------------------


def make_candidate(root, weights: bytes, verdict: str) -> None:
    model = root / "runs/candidate/model"
    model.mkdir(parents=True, exist_ok=True)
    (model / "model.safetensors").write_bytes(weights)
    (model / "config.json").write_text("{}")
    reports = root / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "metrics.json").write_text(json.dumps({"test": {"per_task": {}}}))
    rows = [{"task": "s", "verdict": verdict, "reason": "drop beyond max_drop: ..." if verdict == "fail" else "ok"}]
    (reports / "gate.json").write_text(json.dumps({"verdict": verdict, "rows": rows}))


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"corpora": {}, "tasks": {}, "gate": {"tasks": {}}}))
    make_candidate(tmp_path, b"weights one", "pass")
    params = load_params(tmp_path / "params.yaml")
    assert promote_candidate(params, "first").version == "v0001"
    make_candidate(tmp_path, b"weights two", "fail")
    return params


def test_force_without_reason_is_refused(workspace: Params):
    result = CliRunner().invoke(app, ["promote", "--force", "--params", str(workspace.root / "params.yaml")])
    assert result.exit_code == 1 and "--force needs --reason" in result.output
    with pytest.raises(PromotionRefused, match="needs a reason"):
        promote_candidate(workspace, "  ", force=True)
    with pytest.raises(PromotionRefused, match=r"the gate refused the candidate .*--force --reason"):
        promote_candidate(workspace, "no force")
    assert open_registry(workspace).resolve("production") == "v0001"


def test_force_with_reason_promotes_a_failing_candidate_and_records_who_and_why(workspace: Params):
    why = "hotfix: the drop is a known labelling bug in the new test data (JIRA-123)"
    result = CliRunner().invoke(app, ["promote", "--force", "--reason", why,
                                      "--params", str(workspace.root / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert "FORCED: promoted v0002 to production against the gate (replacing v0001)" in result.output
    registry = open_registry(workspace)
    assert registry.resolve("production") == "v0002"
    move = registry.history("production")[-1]
    assert (move["action"], move["reason"], move["previous"]) == ("force", why, "v0001")
    assert move["moved_by"] == registry.actor()
    stored = registry.show("v0002")["gate"]
    assert stored["verdict"] == "fail", "the refused verdict is kept, not rewritten"
    assert stored["override"] == {"action": "force", "reason": why, "by": registry.actor()}
    assert registry.history("production")[0]["action"] == "promote"
