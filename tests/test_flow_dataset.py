"""The Prefect flow runs the DVC stages (a real flow on a real temporary Prefect API) and publishes counts."""

from __future__ import annotations

from prefect.artifacts import Artifact

from flows.dataset import build_dataset
from tests.workspace import make_workspace


def test_dataset_flow_runs_stages_and_publishes_the_counts_table(tmp_path, shared_corpora, prefect_harness, monkeypatch):
    ws = make_workspace(tmp_path, shared_corpora, n=100)
    monkeypatch.setenv("MTL_CORPORA_MIRROR", str(ws.mirror))

    build = build_dataset(ws.params_file)
    counts = build["counts"]
    assert "unify" in build["stages_run"]

    files = {(row["corpus"], row["split"]) for row in counts}
    assert ("trec", "test") in files and ("ud_english_ewt", "dev") in files and len(files) == 11
    for row in counts:
        assert row["read"] == row["accepted"] + row["quarantined"], row
    assert (ws.root / "data/unified/train.parquet").is_file()
    assert (ws.root / "dvc.lock").is_file(), "the flow went through DVC, which records lineage"

    artifact = Artifact.get("corpus-counts")
    assert artifact is not None and artifact.type == "table"
    assert "ud_english_ewt" in str(artifact.data)
