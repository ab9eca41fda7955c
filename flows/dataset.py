"""Prefect flow: corpora -> validated, task-tagged dataset, by running the DVC stages of dvc.yaml.

Run it with `python -m flows.dataset [--params params.yaml]`. DVC decides what is up to date; this flow
adds a task per corpus (so each shows, retries and fails on its own), and the counts table artifact.
Each stage's task run is named after what DVC did with it: Ran, Restored (from DVC's run cache) or Skipped.
With params data_flow.task_runner: dask, the ingest stages DVC finds out of date run at once on a Dask cluster
(a subflow on prefect-dask's DaskTaskRunner), then are committed to DVC one at a time (mtl/pipeline.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State
from prefect.task_runners import TaskRunner
from prefect.tasks import exponential_backoff

from mtl.config import DataFlowConfig, Params, load_params
from mtl.corpora.fetch import pull_corpora
from mtl.ingest import counts_table
from mtl.logs import log_to_stderr
from mtl.offline import go_offline
from mtl.pipeline import Pending, ReproResult, commit, outdated, prepare, require_workspace_params, run_command, track

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


@task(task_run_name="{stage}", cache_policy=NO_CACHE)
def run_prepared(root: Path, stage: str, command: str) -> State:
    """A stage's own command, outside DVC (on a Dask worker); its lines in this task's log."""
    return Completed(name="Ran", message=f"{stage}: ran", data=run_command(root, stage, command, log=get_run_logger()))


@flow(name="ingest-in-parallel")
def ingest_in_parallel(root: Path, stages: list[str]) -> list[ReproResult]:
    """The outdated stages' commands at once on the flow's task runner; each committed to DVC as it ends."""
    futures = [run_prepared.submit(root, stage, prepare(root, stage)) for stage in stages]
    results = []
    for stage, future in zip(stages, futures):
        results.append(future.result())
        commit(root, stage)
    return results


def task_runner(config: DataFlowConfig) -> TaskRunner:
    """The Dask cluster at config.dask_address, else a local one of config.dask_workers processes."""
    from prefect_dask import DaskTaskRunner

    if config.dask_address:
        return DaskTaskRunner(address=config.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": config.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


@flow(name="build-dataset")
def build_dataset(params: Params) -> dict:
    """{"counts": one row per corpus file, "stages": the ReproResult of every stage, in order}."""
    pull(params)
    pending = Pending.ask(params.root, "unify")  # one `dvc status` for every data stage
    raw_file = f"{params.paths.raw}.dvc"
    if raw_file in pending.outdated or not (params.root / raw_file).is_file():
        track_raw(params)
    ingest = [f"ingest@{corpus}" for corpus in params.corpora]
    if params.data_flow.task_runner == "dask":
        todo = outdated(pending, ingest)
        done = {stage: run_stage(pending, stage).result() for stage in ingest if stage not in todo}  # skipped
        if todo:
            parallel = ingest_in_parallel.with_options(task_runner=task_runner(params.data_flow))
            done |= {result.target: result for result in parallel(params.root, todo)}
            pending.changed = True  # what follows goes through DVC, which sees the new outputs
        stages: list[ReproResult] = [done[stage] for stage in ingest]
    else:  # one corpus at a time: DVC locks the workspace for the length of a command
        stages = [run_stage(pending, stage).result() for stage in ingest]
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
