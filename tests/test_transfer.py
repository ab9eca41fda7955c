"""The transfer report: verdicts from the paired bootstrap of multi-task minus single-task on synthetic
per-example predictions, the report's shape, and the cost comparison of 1 multi-task model vs N single-task
models (untrained tiny models: the figures, not their values, are under test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from mtl.cli import app
from mtl.tasks import task_options
from mtl.config import Params, Paths
from mtl.model import build_model, build_vocab, save_model
from mtl.transfer import (NEGATIVE, NO_DIFFERENCE, POSITIVE, build_report, compare_task, inference_cost,
                          round_robin, to_markdown, verdict)
from tests.training.conftest import TASKS, make_rows, tiny_params, write_unified

SENTIMENT = task_options(kind="classification", labels=["0", "1"])
NER = task_options(kind="tagging", scheme="bio", labels=["O", "B-ent", "I-ent"])


def classification(n: int, multi_errors: int, single_errors: int) -> tuple[list, list, list]:
    """Gold labels and two models' predictions, each wrong on its first k examples (errors overlap)."""
    gold = ["1" if i % 3 else "0" for i in range(n)]
    flip = {"0": "1", "1": "0"}
    multi = [flip[g] if i < multi_errors else g for i, g in enumerate(gold)]
    single = [flip[g] if i < single_errors else g for i, g in enumerate(gold)]
    return gold, multi, single


def compare(gold, multi, single, task_cfg=SENTIMENT, metric="accuracy") -> dict:
    return compare_task("t", gold, multi, single, task_cfg, task_cfg.labels, metric,
                        n_bootstrap=500, confidence=0.95, seed=0)


# --- the verdict ----------------------------------------------------------------------------------


def test_multi_task_clearly_better_is_positive_transfer():
    row = compare(*classification(1000, 100, 160))
    assert row["verdict"] == POSITIVE
    assert row["difference"]["value"] == pytest.approx(0.06)
    assert row["difference"]["ci"][0] > 0
    assert row["multi_task"]["value"] == pytest.approx(0.90) and row["single_task"]["value"] == pytest.approx(0.84)
    lo, hi = row["multi_task"]["ci"]
    assert lo < 0.90 < hi and row["n"] == 1000 and row["metric"] == "accuracy"


def test_multi_task_clearly_worse_is_negative_transfer():
    row = compare(*classification(1000, 160, 100))
    assert row["verdict"] == NEGATIVE
    assert row["difference"]["value"] == pytest.approx(-0.06) and row["difference"]["ci"][1] < 0


def test_a_difference_within_the_noise_is_no_significant_difference():
    row = compare(*classification(200, 21, 20))  # one example of 200
    assert row["verdict"] == NO_DIFFERENCE
    lo, hi = row["difference"]["ci"]
    assert lo < 0 < hi or lo == 0 or hi == 0
    same = compare(*classification(200, 20, 20))
    assert same["verdict"] == NO_DIFFERENCE and same["difference"]["ci"] == [0.0, 0.0]


def test_entity_f1_is_compared_through_its_statistics():
    gold = [["B-ent", "O", "B-ent", "I-ent"]] * 300
    miss = ["O", "O", "B-ent", "I-ent"]
    multi = [miss if i < 30 else g for i, g in enumerate(gold)]
    single = [miss if i < 120 else g for i, g in enumerate(gold)]
    row = compare(gold, multi, single, NER, "entity_f1")
    assert row["metric"] == "entity_f1" and row["verdict"] == POSITIVE


@pytest.mark.parametrize("ci, expected", [([0.01, 0.03], POSITIVE), ([-0.03, -0.001], NEGATIVE),
                                          ([-0.01, 0.02], NO_DIFFERENCE), ([0.0, 0.02], NO_DIFFERENCE),
                                          ([-0.02, 0.0], NO_DIFFERENCE)])
def test_verdict_needs_the_whole_interval_past_zero(ci, expected):
    assert verdict(ci) == expected


# --- cost and the report --------------------------------------------------------------------------


def untrained(params: Params, tasks: list[str], sentences: list[list[str]]):
    torch.manual_seed(0)
    vocab = build_vocab(sentences, min_count=1, lowercase=True, max_word_chars=20)
    labels = {name: {**TASKS[name]} for name in tasks}
    return build_model(params.model, vocab, labels, params.model_dump(mode="json"))


@pytest.fixture(scope="module")
def models():
    params = tiny_params()
    sentences = [row["tokens"] for row in make_rows("train", 24, 0, TASKS)]
    multi = untrained(params, list(TASKS), sentences)
    singles = {task: untrained(params, [task], sentences) for task in TASKS}
    return multi, singles, sentences


def test_cost_counts_n_models_and_times_both_sides(models):
    multi, singles, sentences = models
    cost = inference_cost(multi, singles, sentences, repeats=2, batch_size=16)
    assert cost["n_single_task_models"] == 4
    parameters = cost["parameters"]
    assert parameters["multi_task"] == multi.n_parameters() == parameters["multi_task_breakdown"]["total"]
    assert parameters["single_task"] == {task: m.n_parameters() for task, m in singles.items()}
    assert parameters["single_task_total"] == sum(parameters["single_task"].values())
    assert 3 < parameters["ratio"] < 4, "4 encoders against 1 encoder and 4 heads"
    speed = cost["inference"]
    assert speed["sentences"] == len(sentences) and speed["tokens"] == sum(map(len, sentences))
    assert speed["repeats"] == 2 and speed["threads"] >= 1
    for side in ("multi_task", "single_task"):
        assert speed[side]["seconds"] > 0
        assert speed[side]["tokens_per_second"] == pytest.approx(speed["tokens"] / speed[side]["seconds"])
    assert set(speed["single_task"]["per_model_seconds"]) == set(TASKS)
    assert speed["speedup"] == pytest.approx(speed["single_task"]["seconds"] / speed["multi_task"]["seconds"])


def test_round_robin_keeps_every_tasks_share():
    mixed = round_robin({"a": [["a1"], ["a2"], ["a3"]], "b": [["b1"]]}, 3)
    assert mixed == [["a1"], ["b1"], ["a2"]]
    assert len(round_robin({"a": [["a1"], ["a2"]], "b": [["b1"]]})) == 3


def test_report_shape_and_markdown(models):
    multi, singles, sentences = models
    rows = {"pos": compare(*classification(1000, 100, 160)), "ner": compare(*classification(1000, 160, 100)),
            "sentiment": compare(*classification(200, 21, 20))}
    cost = inference_cost(multi, singles, sentences[:8], repeats=1)
    report = build_report(rows, cost, tiny_params())
    assert set(report) == {"split", "budget", "bootstrap", "tasks", "summary", "cost"}
    assert report["summary"] == {POSITIVE: ["pos"], NEGATIVE: ["ner"], NO_DIFFERENCE: ["sentiment"]}
    assert report["bootstrap"]["method"] == "paired percentile" and report["budget"] == "examples"
    for row in report["tasks"].values():
        assert set(row) == {"metric", "n", "multi_task", "single_task", "difference", "verdict"}
        assert all(set(row[k]) == {"value", "ci"} for k in ("multi_task", "single_task", "difference"))
    json.dumps(report)  # JSON-ready: no numpy scalars
    markdown = to_markdown(report)
    assert "| task | metric | n | multi-task | single-task | difference [lo, hi] | verdict |" in markdown
    assert "| pos | accuracy | 1000 | 0.9000 [" in markdown and markdown.count("| positive transfer |") == 1
    ner_line = next(line for line in markdown.splitlines() if line.startswith("| ner |"))
    assert "| -0.0600 [" in ner_line and ner_line.endswith("| negative transfer |")
    assert "## Cost: one multi-task model vs 4 single-task models" in markdown
    assert "| parameters |" in markdown and "| tokens/s |" in markdown


# --- the stage through the CLI --------------------------------------------------------------------


def test_mtl_transfer_writes_both_reports(tmp_path: Path, models):
    multi, singles, _ = models
    write_unified(tmp_path / "unified", n_train=24, n_eval=12)
    params = tiny_params().model_copy(update={"paths": Paths(unified="unified", run="run", reports="reports")})
    data = params.model_dump(mode="json", exclude={"root"})
    data["baseline"] = {"n_bootstrap": 200, "timing_repeats": 1, "timing_sentences": 20}
    data["training"]["threads"] = 2  # the timing runs with the training threads, not whatever torch has
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    runner, args = CliRunner(), ["transfer", "--params", str(tmp_path / "params.yaml")]

    save_model(multi, tmp_path / "run/model")
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1 and "no single-task baseline for 'pos'" in failed.output
    assert "mtl baseline --task pos" in failed.output

    for task, model in singles.items():
        save_model(model, tmp_path / f"run/baselines/{task}/model")
    threads_before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        result = runner.invoke(app, args)
    finally:
        torch.set_num_threads(threads_before)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "reports/transfer.json").read_text())
    assert report["cost"]["inference"]["threads"] == 2
    assert list(report["tasks"]) == list(TASKS)
    assert {row["metric"] for row in report["tasks"].values()} == {"accuracy", "entity_f1"}
    assert all(row["n"] == 12 for row in report["tasks"].values())
    assert sum(len(tasks) for tasks in report["summary"].values()) == 4
    assert report["cost"]["inference"]["sentences"] == 20 and report["cost"]["n_single_task_models"] == 4
    assert (tmp_path / "reports/transfer.md").read_text() in result.output
