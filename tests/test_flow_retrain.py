"""The whole job through the real retrain flow (Prefect + DVC + registry) on the session's small workspace:
the first run promotes (trained_workspace); `mtl run` on an unchanged copy only re-checks the gate and
prints each stage as it starts and ends; a weakened candidate is refused."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from prefect.artifacts import Artifact

from flows.retrain import retrain
from harness.prefect_server import prefect_environment
from harness.workspace import copy_workspace, mtl, run
from mtl.config import load_params
from mtl.registry import open_registry
from tests.prefect_api import task_states


def test_the_first_run_trains_gates_and_promotes(trained_workspace):
    first, workspace = trained_workspace.result, trained_workspace.workspace
    assert first["outcome"] == "promoted", first["summary"]
    # The dataset flow had built the data stages before this copy was made: DVC skipped them. The gate and
    # the report always run (production and the registry's history live outside DVC's view).
    assert first["stages_run"] == ["train", "evaluate", "gate", "report"] and first["stages_restored"] == []
    states = task_states(trained_workspace.flow_run_id)
    assert {states["ingest@trec"], states["unify"]} == {"Skipped"}
    assert (states["train"], states["evaluate"], states["gate"]) == ("Ran", "Ran", "Ran")

    registry = open_registry(load_params(workspace.params_file))
    assert registry.resolve("production") == "v0001"
    assert first["gate"]["first_run"] is True
    version = registry.show("production")
    assert version["lineage"]["dvc_lock"]["unify"], "lineage records the dataset hashes from dvc.lock"
    assert "pos" in version["metrics"]["test"]["per_task"]


def test_registry_list_and_predict_serve_the_production_model(trained_workspace):
    workspace = trained_workspace.workspace  # read only: listing and predicting change nothing
    listing = mtl(workspace, "registry", "list")
    assert "v0001" in listing and "[production]" in listing and "pos/accuracy=" in listing

    # `mtl predict` serves the production model: every task for every sentence, one encoder pass.
    printed = mtl(workspace, "predict", "--model", "production", input="Where is Paris ?\nI loved this film .\n")
    lines = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    assert [line["tokens"] for line in lines] == [["Where", "is", "Paris", "?"], ["I", "loved", "this", "film", "."]]
    sentiments = load_params(workspace.params_file).tasks["sentiment"].labels
    for line in lines:
        assert len(line["pos"]) == len(line["tokens"]) == len(line["ner"])
        assert line["sentiment"] in sentiments and isinstance(line["question"], str)


def test_mtl_run_on_an_unchanged_workspace_regates_only_then_a_weakened_candidate_is_refused(
    trained_workspace, prefect_api, tmp_path, monkeypatch
):
    workspace = copy_workspace(trained_workspace.workspace, tmp_path)
    monkeypatch.setenv("MTL_CORPORA_MIRROR", str(workspace.mirror))
    registry = open_registry(load_params(workspace.params_file))

    # The command `make run` runs, against this session's Prefect server, printing as it goes.
    env = {**prefect_environment(prefect_api.url, prefect_api.home), "MTL_CORPORA_MIRROR": str(workspace.mirror)}
    mtl_command = str(Path(sys.executable).parent / "mtl")  # the console script, as `make run` calls it
    printed = run(workspace.root, mtl_command, "run", "--params", str(workspace.params_file), env=env)
    assert "production model unchanged: v0001 already holds the candidate's weights" in printed
    assert "stages run: gate, report\n" in printed, "only the gate (re-checked against production) and the report run"
    assert [row["version"] for row in registry.list_versions()] == ["v0001"]
    # Each stage as it starts and ends, timestamped, in the order DVC took them.
    stage_lines = re.findall(r"^\d\d:\d\d:\d\d\.\d+ \| \w+ +\| Task run '[^']+' - (stage .*)$", printed, re.MULTILINE)
    skipped = [line.removesuffix(": skipped, up to date") for line in stage_lines if line.endswith("skipped, up to date")]
    assert {"stage ingest@trec", "stage unify", "stage train", "stage evaluate"} <= set(skipped), stage_lines
    gate = stage_lines.index("stage gate: started")
    assert stage_lines[gate + 1].startswith("stage gate: ran in ") and "stage report: started" in stage_lines[gate:], stage_lines

    # A deliberately weakened candidate (the same data, trained for three steps), against a gate that
    # allows a drop of 0.02 at most.
    tight = {task: {"max_drop": 0.02} for task in load_params(workspace.params_file).tasks}
    workspace.set_params(training={"max_steps": 3}, gate={"tasks": tight})
    third = retrain(workspace.params_file)
    assert third["outcome"] == "refused"
    assert "train" in third["stages_run"]
    failed = [row for row in third["gate"]["rows"] if row["verdict"] == "fail"]
    assert failed and all("max_drop" in row["reason"] for row in failed), failed
    assert registry.resolve("production") == "v0001", "the production alias did not move"
    assert len(registry.history("production")) == 1
    gate_file = json.loads((workspace.root / "reports/gate.json").read_text())
    assert gate_file["production_version"] == "v0001"
    assert "| pos |" in Artifact.get("gate").data
