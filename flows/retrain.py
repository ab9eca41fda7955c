"""Prefect flow: the whole job. Data stages, train, evaluate, gate (all through DVC), then promote
when every task clears its gate. `mtl run` (what `make run` calls) runs it on demand; `mtl schedule`
serves it on params' cron with skip_unchanged (a run with nothing new ends in seconds as "skipped").

    mtl run [--params params.yaml] [--skip-unchanged]      (or: python -m flows.retrain ...)

Every run ends with one outcome, published as a Prefect event, a `retrain-outcome` artifact and, when
params ask for it, a webhook (mtl/notify.py): skipped, refused, unchanged, promoted, or failed. One run
per workspace at a time (a lock under .dvc/tmp); nothing moves production before the gate passed and
the data was pushed, so a failed run leaves production as it was. Params are loaded once, here, and
passed down; DVC's stages, each a process of its own, read the workspace's params.yaml.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from flows.dataset import build_dataset, run_stage
from mtl.changes import Changes, record_decision, what_changed
from mtl.config import Params, load_params
from mtl.gate import table_rows
from mtl.logs import log_to_stderr
from mtl.notify import Outcome, announce, report_failure
from mtl.offline import go_offline
from mtl.pipeline import Pending, push_promoted, require_workspace_params, stages_that, workspace_lock
from mtl.stages.promote import Promotion, promote_candidate

# Tasks never cache: each is a side effect (DVC decides what is up to date), and Params would hash as a
# whole configuration.


@task(cache_policy=NO_CACHE)
def find_changes(params: Params) -> Changes:
    return what_changed(params)


@task(cache_policy=NO_CACHE)  # no retries: a publish plus a conditional alias move; the S3 store retries its own requests
def promote(params: Params) -> Promotion:
    return promote_candidate(params, reason="retrain flow: every task passed its gate")


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.5, cache_policy=NO_CACHE)
def push_data(params: Params) -> str | None:  # object storage: transient failures are retried
    return push_promoted(params)


def _crashed(flow, flow_run, state) -> None:  # on_crashed: the run's process died, its Params with it
    report_failure(load_params(flow_run.parameters.get("params_file", "params.yaml")), state.message or state.name)


@flow(name="retrain", on_crashed=[_crashed])
def retrain(params_file: Path = Path("params.yaml"), skip_unchanged: bool = False) -> dict:
    """skip_unchanged: end as "skipped" when neither data, code nor params changed since the last decided
    candidate (the scheduled deployment sets it; on demand, the gate is re-checked against production)."""
    started = time.monotonic()
    require_workspace_params(params_file)
    params = load_params(params_file)
    try:
        with workspace_lock(params.root):
            changes = find_changes(params) if skip_unchanged else None
            if changes is not None and changes.nothing:
                summary = f"nothing to do: {changes.describe()}; production is {changes.production or 'none'}"
                return _finish(Outcome("skipped", summary, [], production=changes.production), params, started)

            stages = build_dataset(params)["stages"]
            model_stages = ("train", "evaluate", "gate", "report")
            pending = Pending.after(stages, params.root, model_stages[-1])  # `dvc status` if the data did not change
            stages += [run_stage(pending, name).result() for name in model_stages]
            ran, restored = stages_that("ran", stages), stages_that("restored", stages)
            gate = json.loads(params.report("gate").read_text())
            gate_table = params.report("gate_table").read_text()
            create_markdown_artifact(key="gate", markdown=gate_table, description="Per-task gate decision")
            create_table_artifact(key="gate-rows", table=table_rows(gate), description="Per-task gate rows")
            create_link_artifact(key="report", link=params.report("report").resolve().as_uri(),
                                 link_text=f"the candidate's report ({params.paths.report})",
                                 description="Curves, scores with intervals, confusion, task mix, gate, drift, leakage, history")
            why = changes.describe() if changes else "run on demand"
            if gate["verdict"] == "pass":
                push_data(params)  # before the alias moves: production never points at data we could not keep
                promotion = promote(params)
                summary = (
                    f"promoted {promotion.version} to production (replacing {promotion.replaced or 'nothing'})"
                    if promotion.changed
                    else f"production model unchanged: {promotion.version} already holds the candidate's weights"
                )
                kind = "promoted" if promotion.changed else "unchanged"
                outcome = Outcome(kind, summary, ran, why, promotion.version, promotion.replaced, stages_restored=restored)
            else:
                production = gate.get("production_version")
                summary = f"the gate refused the candidate; production is unchanged ({production or 'none'})"
                outcome = Outcome("refused", summary, ran, why, production, stages_restored=restored)
            record_decision(params, outcome.outcome)
            return _finish(outcome, params, started, gate, gate_table)
    except Exception as error:
        report_failure(params, f"{type(error).__name__}: {error}")  # never raises
        raise


def _finish(outcome: Outcome, params: Params, started: float, gate: dict | None = None, gate_table: str = "") -> dict:
    outcome = replace(outcome, seconds=round(time.monotonic() - started, 2)).redacted()
    announce(outcome, params)
    restored = f"\nrestored from DVC's run cache: {', '.join(outcome.stages_restored)}" if outcome.stages_restored else ""
    print(f"{outcome.summary}\nstages run: {', '.join(outcome.stages_run) or 'none'}{restored}\n\n{gate_table}")
    return {
        "outcome": outcome.outcome, "summary": outcome.summary, "stages_run": outcome.stages_run,
        "stages_restored": outcome.stages_restored, "gate": gate, "changes": outcome.changes,
        "production": outcome.production, "seconds": outcome.seconds,
    }


if __name__ == "__main__":
    go_offline()
    log_to_stderr()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--skip-unchanged", action="store_true", help="End as skipped when nothing changed.")
    arguments = parser.parse_args()
    retrain(arguments.params.resolve(), skip_unchanged=arguments.skip_unchanged)
