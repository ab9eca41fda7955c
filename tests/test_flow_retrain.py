"""The whole job through the real retrain flow (Prefect + DVC + registry) on a few hundred sentences per
corpus: promote on the first run, do nothing on an unchanged second run, refuse a weakened candidate."""

from __future__ import annotations

import json

import yaml
from prefect.artifacts import Artifact

from flows.retrain import retrain
from mtl.config import load_params
from mtl.stages import open_registry
from tests.workspace import make_workspace, mtl

TINY_MODEL = {"word_dim": 32, "char_dim": 16, "char_filters": 32, "hidden_size": 64, "layers": 1}
TINY_TRAINING = {
    "max_steps": 150, "eval_every": 50, "checkpoint_every": 50, "batch_size": 400,
    "warmup_steps": 10, "lr": 0.004, "progress": False, "threads": 2,
}
# Floors at zero: a model trained for seconds on 200 sentences reaches no real floor. The regression
# check (max_drop) is what this test exercises.
OPEN_GATE = {"tasks": {task: {"floor": 0.0, "max_drop": 0.02} for task in ("pos", "ner", "sentiment", "question")}}


def test_retrain_promotes_then_skips_then_refuses_a_weaker_candidate(tmp_path, shared_corpora, prefect_harness, monkeypatch):
    ws = make_workspace(
        tmp_path, shared_corpora, n=200,
        model=TINY_MODEL, training=TINY_TRAINING, gate=OPEN_GATE, evaluation={"n_bootstrap": 200},
    )
    monkeypatch.setenv("MTL_CORPORA_MIRROR", str(ws.mirror))
    registry = open_registry(load_params(ws.params_file))

    first = retrain(ws.params_file)
    assert first["outcome"] == "promoted", first["summary"]
    assert {"ingest@trec", "unify", "train", "evaluate", "gate"} <= set(first["stages_run"])
    assert registry.resolve("production") == "v0001"
    assert first["gate"]["first_run"] is True
    version = registry.show("production")
    assert version["lineage"]["dvc_lock"]["unify"], "lineage records the dataset hashes from dvc.lock"
    assert "pos" in version["metrics"]["test"]["per_task"]
    assert "| pos |" in Artifact.get("gate").data

    listing = mtl(ws, "registry", "list")
    assert "v0001" in listing and "[production]" in listing and "pos/accuracy=" in listing

    # `mtl predict` serves the production model: every task for every sentence, one encoder pass.
    printed = mtl(ws, "predict", "--model", "production", input="Where is Paris ?\nI loved this film .\n")
    lines = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    assert [line["tokens"] for line in lines] == [["Where", "is", "Paris", "?"], ["I", "loved", "this", "film", "."]]
    for line in lines:
        assert len(line["pos"]) == len(line["tokens"]) == len(line["ner"])
        assert line["sentiment"] in ("0", "1") and isinstance(line["question"], str)

    second = retrain(ws.params_file)
    assert second["outcome"] == "unchanged", second["summary"]
    assert second["stages_run"] == ["gate"], "only the gate (always re-checked against production) runs"
    assert [row["version"] for row in registry.list_versions()] == ["v0001"]

    # A deliberately weakened candidate: the same data, trained for three steps.
    params = yaml.safe_load(ws.params_file.read_text())
    params["training"]["max_steps"] = 3
    ws.params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    third = retrain(ws.params_file)
    assert third["outcome"] == "refused"
    assert "train" in third["stages_run"]
    failed = [row for row in third["gate"]["rows"] if row["verdict"] == "fail"]
    assert failed and all("max_drop" in row["reason"] for row in failed), failed
    assert registry.resolve("production") == "v0001", "the production alias did not move"
    assert len(registry.history("production")) == 1
    gate_file = json.loads((ws.root / "reports/gate.json").read_text())
    assert gate_file["production_version"] == "v0001"
