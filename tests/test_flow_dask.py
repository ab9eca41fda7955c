"""The dataset flow on a real local Dask cluster of 2 worker processes (prefect-dask's DaskTaskRunner, on the
session's real Prefect server, real DVC in a temporary git repo) gives the sequential run's outputs byte for byte,
and leaves DVC knowing it: dvc.lock records the ingest stages as `dvc repro` would, and a second run skips them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flows.dataset import build_dataset, task_runner
from harness.workspace import TINY, make_workspace
from mtl.config import DataFlowConfig, load_params
from mtl.pipeline import dvc_status
from tests.conftest import CORPORA


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """One local cluster for the module (its start costs seconds): 2 worker processes on 127.0.0.1, free ports."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def files_under(root: Path, *folders: str) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes()
            for folder in folders for path in sorted((root / folder).rglob("*")) if path.is_file()}


def test_the_dataset_flow_on_dask_gives_the_sequential_outputs_and_dvc_records_them(
        tmp_path, shared_corpora, dataset_workspace, dask_address, monkeypatch):
    sequential = dataset_workspace.workspace  # the session's workspace, built by the sequential flow
    # The same workspace (same params, same cut of the corpora) but for data_flow, which no stage depends on;
    # the flow's own pull task fills data/raw from the mirror.
    workspace = make_workspace(tmp_path, shared_corpora, n=100, open_gate=True, corpora=CORPORA,
                               data_flow={"task_runner": "dask", "dask_address": dask_address}, **TINY)
    monkeypatch.setenv("MTL_CORPORA_MIRROR", str(workspace.mirror))
    params = load_params(workspace.params_file)
    assert params.data_flow.task_runner == "dask"

    built = build_dataset(params)

    ingest = [f"ingest@{corpus}" for corpus in params.corpora]
    assert [(stage.target, stage.status) for stage in built["stages"]] == [*((s, "ran") for s in ingest), ("unify", "ran")]
    assert built["counts"] == dataset_workspace.result["counts"]
    outputs = files_under(workspace.root, "data/interim", "data/unified")
    expected = files_under(sequential.root, "data/interim", "data/unified")
    assert sorted(outputs) == sorted(expected)
    assert any(name.endswith("quarantine.jsonl") for name in outputs) and "data/unified/train.parquet" in outputs
    assert [name for name in outputs if outputs[name] != expected[name]] == []

    # DVC recorded each stage as `dvc repro` did in the sequential workspace: same deps, params and outputs.
    locks = [yaml.safe_load((root / "dvc.lock").read_text())["stages"] for root in (workspace.root, sequential.root)]
    assert [locks[0][stage] for stage in ingest] == [locks[1][stage] for stage in ingest]
    assert dvc_status(workspace.root, "unify") == {}, "every stage up to date after the Dask run"

    again = build_dataset(params)
    assert [(stage.target, stage.status) for stage in again["stages"]] == [(s, "skipped") for s in [*ingest, "unify"]]


def test_the_task_runner_is_the_configured_cluster_or_a_local_one_of_the_configured_size():
    remote = task_runner(DataFlowConfig(task_runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert remote.address == "tcp://10.0.0.5:8786"
    local = task_runner(DataFlowConfig(task_runner="dask", dask_workers=3))
    assert local.address is None and local.cluster_kwargs["n_workers"] == 3
