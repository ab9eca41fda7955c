"""The dataset flow (a real flow on a real temporary Prefect API: the session's dataset_workspace build)
runs the DVC stages, publishes the counts, and tells what DVC did with each stage where the Prefect UI
shows it: each stage task's state (Ran, Restored, Skipped) and its log, line by line as the stage runs."""

from __future__ import annotations

from prefect.artifacts import Artifact

from mtl.config import load_params
from tests.prefect_api import log_lines, task_states


def test_dataset_flow_runs_stages_and_publishes_the_counts_table(dataset_workspace):
    root, build = dataset_workspace.workspace.root, dataset_workspace.result
    corpora = list(load_params(dataset_workspace.workspace.params_file).corpora)
    assert [(stage.target, stage.status) for stage in build["stages"]] == [
        *((f"ingest@{corpus}", "ran") for corpus in corpora), ("unify", "ran")
    ]

    counts = build["counts"]
    files = {(row["corpus"], row["split"]) for row in counts}
    assert ("trec", "test") in files and ("ud_english_ewt", "dev") in files
    assert {corpus for corpus, split in files if split == "train"} == set(corpora)
    for row in counts:
        assert row["read"] == row["accepted"] + row["quarantined"], row
    assert (root / "data/unified/train.parquet").is_file()
    assert (root / "dvc.lock").is_file(), "the flow went through DVC, which records lineage"

    artifact = Artifact.get("corpus-counts")
    assert artifact is not None and artifact.type == "table"
    assert "ud_english_ewt" in str(artifact.data)


def test_each_stage_task_is_named_after_what_dvc_did_and_logs_the_stage_as_it_runs(dataset_workspace):
    corpora = list(load_params(dataset_workspace.workspace.params_file).corpora)
    states = task_states(dataset_workspace.flow_run_id)
    assert {name: state for name, state in states.items() if not name.startswith("pull")} == {
        **{f"ingest@{corpus}": "Ran" for corpus in corpora}, "unify": "Ran"
    }
    logs = log_lines(dataset_workspace.flow_run_id)
    for corpus in corpora:
        started = logs.index(f"stage ingest@{corpus}: started")
        ended = next(i for i, line in enumerate(logs) if line.startswith(f"stage ingest@{corpus}: ran in "))
        # the stage command's own lines, relayed between its start and its end
        assert any(line.startswith(f"ingest@{corpus} | {corpus}: read ") for line in logs[started:ended]), logs[started:ended]
