"""Drift of the training data against production's: label shift (chi-square, total variation), sentence lengths
(Kolmogorov-Smirnov) and unseen tokens, per task, from the statistics saved with each registry version; shown
beside the gate table, blocking only when drift.action is block."""

from __future__ import annotations

import json
import random

import pytest
from scipy.stats import ks_2samp

from harness.candidate import build_once
from mtl.config import DriftConfig, load_params
from mtl.drift import compare, train_statistics
from mtl.gate import GateReport, GateRow
from mtl.registry import open_registry
from mtl.stages.gate import apply_drift, gate_candidate
from mtl.tasks import task_options

TASKS = {"sentiment": task_options("classification", labels=["negative", "positive"]),
         "relatedness": task_options("regression", texts=2, range=[1, 5])}
CONFIG = DriftConfig()


def sentiment_rows(n: int, positive: float, words: list[str], seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"tokens": rng.choices(words, k=rng.randint(2, 12)), "label": "positive" if rng.random() < positive else "negative"}
            for _ in range(n)]


def stats(rows: list[dict], task: str = "sentiment") -> dict:
    return train_statistics({task: rows}, TASKS)


def test_the_same_data_has_no_drift():
    rows = sentiment_rows(300, 0.5, ["good", "bad", "film"], seed=0)
    [row] = compare(stats(rows), stats(rows), CONFIG).values()
    assert row["status"] == "ok" and row["reasons"] == []
    assert (row["labels"]["shift"], row["labels"]["p_value"], row["lengths"]["statistic"], row["unseen"]["share"]) == (0, 1, 0, 0)


def test_a_shifted_label_balance_and_new_words_are_drift():
    before = sentiment_rows(400, 0.5, ["good", "bad", "film"], seed=1)
    after = before + sentiment_rows(400, 0.95, ["superb", "film"], seed=2)
    row = compare(stats(before), stats(after), CONFIG)["sentiment"]
    share = lambda rows: sum(r["label"] == "positive" for r in rows) / len(rows)  # noqa: E731
    assert row["labels"]["shift"] == pytest.approx(abs(share(after) - share(before)))  # TVD of two outcomes
    assert row["labels"]["movers"][0]["change"] == pytest.approx(share(after) - share(before))
    new_tokens = sum(token == "superb" for r in after for token in r["tokens"])
    assert row["unseen"]["share"] == pytest.approx(new_tokens / sum(len(r["tokens"]) for r in after))
    assert row["unseen"]["examples"] == ["superb"]
    assert row["status"] == "drift" and len(row["reasons"]) == 2  # labels and unseen words; lengths alike
    assert row["labels"]["p_value"] < CONFIG.p_value and not row["lengths"]["drifted"]


def test_the_length_test_is_kolmogorov_smirnov_on_the_sentence_lengths():
    before = sentiment_rows(200, 0.5, ["a"], seed=3)
    after = [{"tokens": ["a"] * (len(r["tokens"]) + 3), "label": r["label"]} for r in before[:150]]
    row = compare(stats(before), stats(after), CONFIG)["sentiment"]
    reference = ks_2samp([len(r["tokens"]) for r in before], [len(r["tokens"]) for r in after])
    assert row["lengths"]["statistic"] == pytest.approx(reference.statistic)  # the same test on the same samples
    assert row["lengths"]["p_value"] == pytest.approx(reference.pvalue)
    assert row["lengths"]["drifted"] and "length shift" in row["reasons"][0]


def test_scores_drift_by_range_and_a_new_task_is_new():
    rows = [{"tokens": ["a", "b"], "tokens_b": ["c"], "score": score} for score in (1.0, 1.5, 4.9, 5.0)]
    [task] = stats(rows, "relatedness").values()
    assert task["outcomes"] == {"1-2": 2, "4-5": 2} and task["lengths"] == {"1": 4, "2": 4}
    assert compare({}, stats(rows, "relatedness"), CONFIG)["relatedness"]["status"] == "new"


# --- in the gate -----------------------------------------------------------------------------------------


def report_of(*tasks: str) -> GateReport:
    rows = [GateRow(task, "accuracy", 0.9, None, 0.9, 0.0, [-0.01, 0.01], 0.95, 0.5, 0.5, 0.01, 500, "pass", "ok")
            for task in tasks]
    return GateReport("pass", rows, first_run=False)


def test_drift_blocks_only_when_params_say_block():
    drifts = {"tasks": {"sentiment": {"status": "drift", "reasons": ["label shift 0.2 > 0.1"]},
                        "pos": {"status": "ok", "reasons": []}}}
    warned = apply_drift(report_of("pos", "sentiment"), drifts, "warn")
    assert warned.verdict == "pass" and "not blocking" in warned.notes[-1]
    blocked = apply_drift(report_of("pos", "sentiment"), drifts, "block")
    rows = {row.task: row for row in blocked.rows}
    assert blocked.verdict == "fail" and rows["pos"].verdict == "pass"
    assert rows["sentiment"].verdict == "fail" and rows["sentiment"].reason.startswith("drift (drift.action block): label shift")


def test_the_shipped_configuration_does_not_block_on_drift(repo_root):
    assert DriftConfig().action == "warn" == load_params(repo_root / "params.yaml").drift.action


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory.getbasetemp() / "candidate")


def test_drift_against_the_production_version_in_the_registry(built):
    params = built.params
    saved = open_registry(params).show("v0001")["lineage"]["data_stats"]
    assert saved["tasks"]["sentiment"]["examples"] == 61  # what v0001 was trained on, kept with it
    drifts = json.loads(params.report("drift").read_text())
    assert drifts["production_version"] == "v0001" and drifts["same_data"] is False
    assert drifts["tasks"]["sentiment"]["status"] == "drift" and drifts["tasks"]["pos"]["status"] == "ok"
    assert built.second["verdict"] == "pass" and "sentiment" in built.second["drift"]["drifted"]  # warn: shown only
    assert "## Drift of the training data against production v0001" in params.report("gate_table").read_text()


def test_drift_block_fails_the_drifted_task_with_its_reason(built):
    params = built.params.model_copy(update={"drift": built.params.drift.model_copy(update={"action": "block"})})
    try:
        gate = gate_candidate(params)
        rows = {row["task"]: row for row in gate["rows"]}
        assert gate["verdict"] == "fail" and rows["sentiment"]["verdict"] == "fail"
        assert "drift (drift.action block)" in rows["sentiment"]["reason"] and rows["pos"]["verdict"] == "pass"
        assert "Drift blocks the candidate" in params.report("gate_table").read_text()
    finally:
        gate_candidate(built.params)  # the shared candidate's reports as they were
