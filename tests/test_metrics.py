"""Task-kind metrics: sufficient statistics summed over examples reproduce the reference metrics."""

from __future__ import annotations

import random

import numpy as np
import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from mtl.tasks import task_options
from mtl.tasks.kind import TaskOptions
from mtl.tasks import get_kind

NER = task_options(kind="tagging", scheme="bio", labels=["O", "B-per", "I-per", "B-loc", "I-loc"])
POS = task_options(kind="tagging", labels=["NOUN", "VERB", "DET"])
CLS = task_options(kind="classification", labels=["a", "b", "c", "d"])


def random_tags(rng: random.Random, length: int) -> list[str]:
    # Any tag anywhere: includes ill-formed sequences (I- after O, I-loc after B-per), which is where
    # a home-made entity extractor would disagree with seqeval.
    return [rng.choice(NER.labels) for _ in range(length)]


def metrics_of(kind_name: str, cfg: TaskOptions, gold, pred) -> dict[str, float]:
    kind = get_kind(kind_name)
    stats = kind.example_stats(gold, pred, cfg.labels, cfg)
    return kind.metrics_from_stats(stats.sum(axis=0), cfg.labels, cfg)


def test_default_metrics():
    assert get_kind("tagging").default_metric(NER) == "entity_f1"
    assert get_kind("tagging").default_metric(POS) == "accuracy"
    assert get_kind("classification").default_metric(CLS) == "accuracy"


@pytest.mark.parametrize("seed", range(30))
def test_entity_scores_equal_seqeval(seed):
    rng = random.Random(seed)
    gold = [random_tags(rng, rng.randint(0, 12)) for _ in range(rng.randint(1, 25))]
    # Predictions: mostly copies of gold with some tags changed, so true positives occur.
    pred = [[t if rng.random() < 0.7 else rng.choice(NER.labels) for t in sentence] for sentence in gold]
    metrics = metrics_of("tagging", NER, gold, pred)
    assert metrics["entity_f1"] == pytest.approx(f1_score(gold, pred), abs=1e-12)
    assert metrics["entity_precision"] == pytest.approx(precision_score(gold, pred), abs=1e-12)
    assert metrics["entity_recall"] == pytest.approx(recall_score(gold, pred), abs=1e-12)
    tokens = [(g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]
    expected_accuracy = sum(g == p for g, p in tokens) / len(tokens) if tokens else 0.0
    assert metrics["accuracy"] == pytest.approx(expected_accuracy)


def test_entity_f1_hand_example():
    gold = [["B-per", "I-per", "O", "B-loc"]]
    pred = [["B-per", "I-per", "O", "B-per"]]  # one of two entities right
    metrics = metrics_of("tagging", NER, gold, pred)
    assert metrics["entity_precision"] == 0.5 and metrics["entity_recall"] == 0.5
    assert metrics["entity_f1"] == 0.5
    assert metrics["accuracy"] == 0.75


def test_tagging_without_scheme_has_accuracy_only():
    stats = get_kind("tagging").example_stats([["NOUN", "VERB"]], [["NOUN", "NOUN"]], POS.labels, POS)
    assert stats.shape == (1, 2)
    assert get_kind("tagging").metrics_from_stats(stats.sum(0), POS.labels, POS) == {"accuracy": 0.5}


def test_tagging_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 0"):
        get_kind("tagging").example_stats([["O", "O"]], [["O"]], NER.labels, NER)


def direct_macro_f1(gold: list[str], pred: list[str]) -> float:
    scores = []
    for label in sorted(set(gold) | set(pred)):
        tp = sum(g == p == label for g, p in zip(gold, pred))
        fp = sum(p == label and g != label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


@pytest.mark.parametrize("seed", range(30))
def test_macro_f1_and_accuracy_equal_direct_computation(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    gold = [rng.choice(CLS.labels) for _ in range(n)]
    pred = [g if rng.random() < 0.5 else rng.choice(CLS.labels) for g in gold]
    metrics = metrics_of("classification", CLS, gold, pred)
    assert metrics["macro_f1"] == pytest.approx(direct_macro_f1(gold, pred), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(sum(g == p for g, p in zip(gold, pred)) / n)


def test_unseen_gold_label_counts_as_error_and_lowers_macro_f1():
    gold, pred = ["a", "b", "zzz"], ["a", "b", "a"]
    metrics = metrics_of("classification", CLS, gold, pred)
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    # classes a (P=1/2, R=1 -> 2/3), b (1), and the pooled unseen class (0)
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    table = get_kind("classification").confusion(gold, pred, CLS.labels)
    assert table["zzz"]["a"] == 1 and table["a"]["a"] == 1


def test_example_stats_rows_sum_to_corpus_totals():
    # The bootstrap relies on rows being independent per-example contributions.
    gold, pred = ["a", "b", "c", "a"], ["a", "c", "c", "b"]
    kind = get_kind("classification")
    stats = kind.example_stats(gold, pred, CLS.labels, CLS)
    assert stats.dtype == np.float64 and stats.shape == (4, 3 * 5 + 2)
    halves = kind.example_stats(gold[:2], pred[:2], CLS.labels, CLS).sum(0) + kind.example_stats(
        gold[2:], pred[2:], CLS.labels, CLS
    ).sum(0)
    assert np.array_equal(stats.sum(0), halves)
