"""evaluate(): one JSON-ready dict per run; bootstrap intervals that behave like intervals."""

from __future__ import annotations

import json
import random

import pytest

from mtl.tasks import task_options
from mtl.config import EvaluationConfig
from mtl.evaluation import confusion_markdown, evaluate

TASKS = {
    "ner": task_options(kind="tagging", scheme="bio", labels=["O", "B-per", "I-per", "B-loc", "I-loc"]),
    "pos": task_options(kind="tagging", labels=["NOUN", "VERB", "DET"]),
    "sentiment": task_options(kind="classification", labels=["0", "1"]),
}
LABELS = {task: cfg.labels for task, cfg in TASKS.items()}


def noisy_classification(n: int, accuracy: float, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    gold = [rng.choice("01") for _ in range(n)]
    pred = [g if rng.random() < accuracy else ("1" if g == "0" else "0") for g in gold]
    return gold, pred


def noisy_tagging(n: int, labels: list[str], seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    gold = [[rng.choice(labels) for _ in range(rng.randint(1, 8))] for _ in range(n)]
    pred = [[t if rng.random() < 0.8 else rng.choice(labels) for t in sentence] for sentence in gold]
    return gold, pred


def small_run(**kwargs) -> dict:
    gold, pred = {}, {}
    gold["ner"], pred["ner"] = noisy_tagging(60, LABELS["ner"], seed=1)
    gold["pos"], pred["pos"] = noisy_tagging(60, LABELS["pos"], seed=2)
    gold["sentiment"], pred["sentiment"] = noisy_classification(200, 0.85, seed=3)
    return evaluate(gold, pred, TASKS, LABELS, **kwargs)


def test_shape_and_primary_metrics():
    result = small_run(n_bootstrap=200)
    assert set(result) >= {"overall", "per_task", "bootstrap"}
    assert result["per_task"]["ner"]["metric"] == "entity_f1"
    assert result["per_task"]["pos"]["metric"] == "accuracy"
    assert result["per_task"]["sentiment"]["metric"] == "accuracy"
    for row in result["per_task"].values():
        assert row["value"] == row["metrics"][row["metric"]]
        assert set(row["intervals"]) == set(row["metrics"])
    assert result["per_task"]["sentiment"]["n"] == 200
    values = [row["value"] for row in result["per_task"].values()]
    assert result["overall"]["mean_primary"] == pytest.approx(sum(values) / 3)
    assert json.loads(json.dumps(result)) == result  # plain JSON, no numpy scalars


def test_confusion_only_for_classification():
    result = small_run(n_bootstrap=0)
    assert "confusion" not in result["per_task"]["pos"]
    table = result["per_task"]["sentiment"]["confusion"]
    assert sum(sum(row.values()) for row in table.values()) == 200
    correct = table["0"]["0"] + table["1"]["1"]
    assert correct / 200 == pytest.approx(result["per_task"]["sentiment"]["metrics"]["accuracy"])


def test_interval_contains_estimate_and_narrows_with_n():
    widths = []
    for n in (100, 2500):
        gold, pred = noisy_classification(n, 0.8, seed=n)
        row = evaluate({"s": gold}, {"s": pred}, {"s": TASKS["sentiment"]}, {"s": ["0", "1"]})["per_task"]["s"]
        lo, hi = row["ci"]
        assert lo <= row["value"] <= hi
        assert 0 < hi - lo
        widths.append(hi - lo)
    # the width shrinks like 1/sqrt(n): 25x the data, about 1/5 of the width
    assert widths[1] < widths[0] / 3


def test_interval_width_matches_binomial_theory():
    gold, pred = noisy_classification(1000, 0.8, seed=7)
    row = evaluate({"s": gold}, {"s": pred}, {"s": TASKS["sentiment"]}, {"s": ["0", "1"]})["per_task"]["s"]
    p = row["value"]
    expected_half_width = 1.96 * (p * (1 - p) / 1000) ** 0.5
    assert (row["ci"][1] - row["ci"][0]) / 2 == pytest.approx(expected_half_width, rel=0.15)


def test_seeded_and_independent_of_other_tasks():
    full = small_run(n_bootstrap=300, seed=5)
    assert small_run(n_bootstrap=300, seed=5) == full
    assert small_run(n_bootstrap=300, seed=6)["per_task"]["ner"]["ci"] != full["per_task"]["ner"]["ci"]
    gold, pred = noisy_tagging(60, LABELS["ner"], seed=1)
    alone = evaluate({"ner": gold}, {"ner": pred}, TASKS, LABELS, n_bootstrap=300, seed=5)
    assert alone["per_task"]["ner"] == full["per_task"]["ner"]


def test_no_bootstrap_means_no_interval():
    row = small_run(n_bootstrap=0)["per_task"]["pos"]
    assert row["ci"] is None and row["intervals"] == {}


def test_examples_fingerprint_follows_gold_not_predictions():
    gold, pred = noisy_classification(50, 0.8, seed=1)
    one = evaluate({"s": gold}, {"s": pred}, TASKS | {"s": TASKS["sentiment"]}, {"s": ["0", "1"]}, n_bootstrap=0)
    two = evaluate({"s": gold}, {"s": gold}, TASKS | {"s": TASKS["sentiment"]}, {"s": ["0", "1"]}, n_bootstrap=0)
    three = evaluate({"s": gold[::-1]}, {"s": pred}, TASKS | {"s": TASKS["sentiment"]}, {"s": ["0", "1"]}, n_bootstrap=0)
    assert one["per_task"]["s"]["examples_sha256"] == two["per_task"]["s"]["examples_sha256"]
    assert one["per_task"]["s"]["examples_sha256"] != three["per_task"]["s"]["examples_sha256"]


def test_mismatched_inputs_are_errors():
    with pytest.raises(ValueError, match="tasks"):
        evaluate({"pos": []}, {}, TASKS, LABELS)
    with pytest.raises(ValueError, match="predicted"):
        evaluate({"sentiment": ["0", "1"]}, {"sentiment": ["0"]}, TASKS, LABELS)


def test_confusion_markdown():
    text = confusion_markdown({"0": {"0": 5, "1": 2}, "1": {"0": 1, "1": 7}})
    lines = text.splitlines()
    assert lines[0] == "| gold \\ predicted | 0 | 1 |"
    assert lines[2] == "| 0 | 5 | 2 |" and lines[3] == "| 1 | 1 | 7 |"


def test_config_defaults_match_function_defaults():
    assert EvaluationConfig().model_dump() == {"n_bootstrap": 1000, "confidence": 0.95, "seed": 0, "extra": {}}


# --- per class: the kinds' breakdown joins the metrics --------------------------------------------------


def test_per_entity_type_scores_are_seqevals():
    from seqeval.metrics import classification_report

    gold, pred = noisy_tagging(200, LABELS["ner"], seed=5)
    row = evaluate({"ner": gold}, {"ner": pred}, TASKS, LABELS, n_bootstrap=0)["per_task"]["ner"]
    reference = classification_report(gold, pred, output_dict=True, zero_division=0)  # seqeval, same run
    assert set(row["per_class"]) == {"per", "loc"}
    for kind, scores in row["per_class"].items():
        assert scores["precision"] == pytest.approx(reference[kind]["precision"])
        assert scores["recall"] == pytest.approx(reference[kind]["recall"])
        assert scores["f1"] == pytest.approx(reference[kind]["f1-score"])
        assert scores["support"] == reference[kind]["support"]


def test_per_tag_accuracy_counts_each_gold_tag():
    gold = [["NOUN", "VERB", "NOUN"], ["DET", "NOUN"]]
    pred = [["NOUN", "NOUN", "NOUN"], ["DET", "VERB"]]
    row = evaluate({"pos": gold}, {"pos": pred}, TASKS, LABELS, n_bootstrap=0)["per_task"]["pos"]
    assert row["per_class"] == {
        "NOUN": {"accuracy": 2 / 3, "precision": 2 / 3, "support": 3},  # 3 gold NOUNs, 2 right; 3 predicted, 2 right
        "VERB": {"accuracy": 0.0, "precision": 0.0, "support": 1},
        "DET": {"accuracy": 1.0, "precision": 1.0, "support": 1},
    }


def test_per_label_scores_average_to_macro_f1():
    gold, pred = noisy_classification(300, 0.7, seed=6)
    row = evaluate({"sentiment": gold}, {"sentiment": pred}, TASKS, LABELS, n_bootstrap=0)["per_task"]["sentiment"]
    f1 = [scores["f1"] for scores in row["per_class"].values()]
    assert sum(f1) / len(f1) == pytest.approx(row["metrics"]["macro_f1"])
    assert sum(scores["support"] for scores in row["per_class"].values()) == 300
    assert row["per_class"]["1"]["recall"] == pytest.approx(row["confusion"]["1"]["1"] / gold.count("1"))


def test_per_score_range_of_a_regression():
    from mtl.tasks import task_options

    task = {"relatedness": task_options("regression", texts=2, range=[1, 5])}
    gold, pred = [1.2, 1.8, 4.5, 5.0], [2.0, 2.0, 4.0, 4.0]
    row = evaluate({"relatedness": gold}, {"relatedness": pred}, task, {"relatedness": []}, n_bootstrap=0)
    per_range = row["per_task"]["relatedness"]["per_class"]
    assert list(per_range) == ["1-2", "4-5"]
    assert per_range["1-2"]["mean_gold"] == pytest.approx(1.5) and per_range["4-5"]["mse"] == pytest.approx(0.625)
