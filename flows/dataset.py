"""Prefect flow: corpora -> validated, task-tagged dataset, by running the DVC stages of dvc.yaml.

Run it with `python -m flows.dataset [--params params.yaml]`. DVC decides what is up to date; this flow
adds a task per corpus (so each shows, retries and fails on its own), and the counts table artifact.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.tasks import exponential_backoff

from mtl.config import load_params
from mtl.corpora.fetch import pull_corpora
from mtl.ingest import counts_table
from mtl.offline import go_offline
from mtl.pipeline import ReproResult, is_dvc_workspace, repro, track


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.5)  # downloads: transient
def pull(params_file: Path) -> None:
    params = load_params(params_file)
    pull_corpora(params)
    if is_dvc_workspace(params.root):
        track(params.root, params.raw_dir)


@task(task_run_name="ingest-{corpus}")
def ingest_corpus(root: Path, corpus: str) -> ReproResult:
    return repro(root, f"ingest@{corpus}")


@task
def unify_dataset(root: Path) -> ReproResult:
    return repro(root, "unify")


@flow(name="build-dataset")
def build_dataset(params_file: Path = Path("params.yaml")) -> dict:
    """{"counts": one row per corpus file, "stages_run": the DVC stages that were not up to date}."""
    params = load_params(params_file)
    pull(params_file)
    # One corpus at a time: DVC locks the workspace for the length of a command.
    results = [ingest_corpus(params.root, corpus) for corpus in params.corpora]
    results.append(unify_dataset(params.root))
    counts = counts_table(params)
    create_table_artifact(key="corpus-counts", table=counts, description="Records read, accepted and quarantined per corpus file")
    return {"counts": counts, "stages_run": [stage for result in results for stage in result.ran]}


if __name__ == "__main__":
    go_offline()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    build_dataset(parser.parse_args().params.resolve())
