"""Adding a task kind is one module: a multi-label classification kind written here, in the test alone, registered
with one line (KINDS), configured through params, read by the JSONL reader, validated, unified, trained with
the real loop, predicted and evaluated with bootstrap intervals, with no change anywhere else."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pytest

from mtl import evaluation
from mtl.config import Params
from mtl.dataset import unify
from mtl.ingest import ingest
from mtl.model import load_model, predict
from mtl.tasks import KINDS
from mtl.tasks.kind import Check, FieldError, TaskOptions, require
from mtl.training import train

TOPICS = {"cat": "animals", "dog": "animals", "rain": "weather", "sun": "weather", "ball": "sport", "goal": "sport"}


class MultiLabelOptions(TaskOptions):
    kind: Literal["multi_label"] = "multi_label"
    threshold: float = 0.5  # a label is predicted when its probability reaches this


class MultiLabel:
    """Any number of labels per text (topics): a sigmoid per label, binary cross-entropy, micro-F1."""

    name: ClassVar[str] = "multi_label"
    Options: ClassVar[type[TaskOptions]] = MultiLabelOptions
    lower_is_better: ClassVar[frozenset[str]] = frozenset()

    def fields(self, options):
        return {"tokens": pa.list_(pa.string()), "topics": pa.list_(pa.string())}

    def parse(self, fields: dict[str, Any], options):
        topics = require(fields, "topics", self.name)
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise FieldError("bad_topics", "topics must be a list of labels")
        return {"tokens": fields["tokens"], "topics": sorted(set(topics))}

    def text_fields(self, options):
        return ["tokens"]

    def labels_of(self, fields):
        return list(fields["topics"])

    def derived_columns(self, frame, labels):
        import pandas as pd

        known = set(labels)
        return pd.DataFrame({"unknown_topics": frame["topics"].map(lambda t: " ".join(sorted(set(t) - known)))})

    def checks(self, labels, options):
        import great_expectations as gx

        return [Check(gx.expectations.ExpectColumnValuesToBeInSet(column="unknown_topics", value_set=[""]),
                      "unknown_label", "topic outside the label set: {value}")]

    def build_head(self, hidden_size, n_labels, options):
        from mtl.tasks.layers import TextClassifier

        return TextClassifier(hidden_size, n_labels)

    def target(self, fields):
        return list(fields["topics"])

    def target_ids(self, fields, label_ids):
        return [label_ids[t] for t in fields["topics"]]

    def collate_targets(self, targets, length):
        import torch

        hot = torch.zeros(len(targets), len(TOPIC_LABELS))
        for i, ids in enumerate(targets):
            hot[i, ids] = 1.0
        return hot

    def loss(self, head_output, batch):
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(head_output.float(), batch.targets)

    def decode(self, head_output, batch):
        chosen = head_output.sigmoid() >= batch.task_options["threshold"]
        return [[batch.labels[j] for j in row.nonzero().flatten().tolist()] for row in chosen]

    def metric_names(self, options):
        return ["micro_f1", "exact_match"]

    def default_metric(self, options):
        return "micro_f1"

    def example_stats(self, gold, pred, labels, options):
        import numpy as np

        rows = [(len(set(g) & set(p)), len(set(p) - set(g)), len(set(g) - set(p)), set(g) == set(p), 1)
                for g, p in zip(gold, pred)]
        return np.array(rows, dtype=np.float64).reshape(-1, 5)

    def metrics_from_stats(self, totals, labels, options):
        tp, fp, fn, exact, n = totals
        return {"micro_f1": float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0,
                "exact_match": float(exact / n) if n else 0.0}

    def confusion(self, gold, pred, labels):
        return None

    def per_class(self, gold, pred, labels, options):
        return {label: {"recall": sum(label in g and label in p for g, p in zip(gold, pred)) / n,
                        "support": n}
                for label in labels if (n := sum(label in g for g in gold))}

    def outcomes(self, fields, options):
        return list(fields["topics"])


TOPIC_LABELS = sorted(set(TOPICS.values()))


def write_corpus(folder, split: str, n: int, seed: int) -> None:
    import random

    rng = random.Random(f"{split}-{seed}")
    with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as out:
        for _ in range(n):
            words = rng.sample(sorted(TOPICS), rng.randint(1, 3)) + rng.sample(["the", "a", "and", "big"], 2)
            rng.shuffle(words)
            out.write(json.dumps({"tokens": words, "topics": sorted({TOPICS[w] for w in words if w in TOPICS})}) + "\n")
        out.write(json.dumps({"tokens": ["odd"], "topics": ["cooking"]}) + "\n")  # outside the label set


@pytest.fixture
def toy_kind(monkeypatch):
    monkeypatch.setitem(KINDS, "multi_label", MultiLabel())  # the one registry line


def test_a_kind_defined_in_a_test_alone_trains_end_to_end(tmp_path, toy_kind):
    raw = tmp_path / "data/raw/topics"
    raw.mkdir(parents=True)
    for split, n in (("train", 60), ("dev", 20), ("test", 20)):
        write_corpus(raw, split, n, seed=0)
    params = Params.model_validate({
        "root": tmp_path,
        "corpora": {"topics": {"task": "topic", "format": "jsonl", "options": {"extra_fields": ["topics"]},
                               "files": {s: {"path": f"{s}.jsonl", "sha256": "0" * 64} for s in ("train", "dev", "test")}}},
        "tasks": {"topic": {"kind": "multi_label", "labels": TOPIC_LABELS, "threshold": 0.5}},
        "gate": {"tasks": {"topic": {"floor": 0.5}}},
        "validation": {"max_quarantine_fraction": 0.1},
        "model": {"sharing": "hard", "words": {"dim": 16, "char_dim": 8, "char_filters": 8, "min_count": 1},
                  "bilstm": {"hidden_size": 16}},
        "training": {"device": "cpu", "threads": 1, "batch_size": 8, "batch_unit": "sentences", "lr": 0.03,
                     "warmup_steps": 5, "max_steps": 80, "eval_every": 40, "checkpoint_every": 40, "loss_weights": {}},
    })
    result = ingest("topics", params)
    report = result.validation.report
    assert (report["read"], report["accepted"], report["quarantined"]) == (103, 100, 3)
    assert report["quarantined_by_reason"] == {"unknown_label": 3}
    unify(params)

    trained = train(params, data_dir=params.unified_dir, out_dir=params.run_dir)
    assert trained.steps == 80 and trained.dev_metrics["topic"]["micro_f1"] > 0.8
    model = load_model(params.run_file("model"))
    [topics] = predict(model, [["the", "cat", "and", "rain"]])["topic"]
    assert topics == ["animals", "weather"]

    from mtl.stages.evaluate import evaluate_model

    scored = evaluate_model(model, params, "test")["per_task"]["topic"]
    assert scored["metric"] == "micro_f1" and scored["value"] > 0.8 and scored["ci"][0] <= scored["value"]
    assert set(scored["metrics"]) == {"micro_f1", "exact_match"}
    assert isinstance(evaluation.examples_sha256([["x"]]), str)
