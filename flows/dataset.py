"""Prefect flow: corpora -> validated, task-tagged dataset, by running the DVC stages of dvc.yaml.

Run it with `python -m flows.dataset [--params params.yaml]`. DVC decides what is up to date; this flow
adds a task per corpus (so each shows, retries and fails on its own), and the counts table artifact.
Each stage's task run is named after what DVC did with it: Ran, Restored (from DVC's run cache) or Skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State
from prefect.tasks import exponential_backoff

from mtl.config import Params, load_params
from mtl.corpora.fetch import pull_corpora
from mtl.ingest import counts_table
from mtl.logs import log_to_stderr
from mtl.offline import go_offline
from mtl.pipeline import Pending, ReproResult, require_workspace_params, track

# Tasks never cache: DVC decides what is up to date, and Params would hash as a whole configuration.


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.5,  # downloads
      cache_policy=NO_CACHE)
def pull(params: Params) -> None:
    pull_corpora(params)


@task(cache_policy=NO_CACHE)
def track_raw(params: Params) -> None:
    track(params.root, params.raw_dir)  # `dvc add`: <raw>.dvc records the corpora's new hashes


@task(task_run_name="{stage}", cache_policy=NO_CACHE)  # no retries: a stage that failed fails again
def run_stage(pending: Pending, stage: str) -> State:
    """The stage through DVC if it is not up to date, its lines in this task's log; the result is the
    returned state's data, and the state is named after what DVC did: Ran, Restored or Skipped."""
    result = pending.repro(stage, log=get_run_logger())
    return Completed(name=result.status.capitalize(), message=f"{stage}: {result.status}", data=result)


@flow(name="build-dataset")
def build_dataset(params: Params) -> dict:
    """{"counts": one row per corpus file, "stages": the ReproResult of every stage, in order}."""
    pull(params)
    pending = Pending.ask(params.root, "unify")  # one `dvc status` for every data stage
    raw_file = f"{params.paths.raw}.dvc"
    if raw_file in pending.outdated or not (params.root / raw_file).is_file():
        track_raw(params)
    # One corpus at a time: DVC locks the workspace for the length of a command.
    stages: list[ReproResult] = [run_stage(pending, f"ingest@{corpus}").result() for corpus in params.corpora]
    stages.append(run_stage(pending, "unify").result())
    counts = counts_table(params)
    create_table_artifact(key="corpus-counts", table=counts, description="Records read, accepted and quarantined per corpus file")
    return {"counts": counts, "stages": stages}


if __name__ == "__main__":
    go_offline()
    log_to_stderr()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    params_file = parser.parse_args().params.resolve()
    require_workspace_params(params_file)
    build_dataset(load_params(params_file))
