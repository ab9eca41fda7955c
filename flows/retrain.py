"""Prefect flow: the whole job. Data stages, train, evaluate, gate (all through DVC), then promote
when every task clears its gate. `make run` runs it on the default configuration; `mtl schedule`
serves it on params' cron with skip_unchanged (a run with nothing new ends in seconds as "skipped").

    python -m flows.retrain [--params params.yaml] [--skip-unchanged]

Every run ends with one outcome, published as a Prefect event, a `retrain-outcome` artifact and, when
params ask for it, a webhook (mtl/notify.py): skipped, refused, unchanged, promoted, or failed. One run
per workspace at a time (a lock under .dvc/tmp); nothing moves production before the gate passed and
the data was pushed, so a failed run leaves production as it was.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.tasks import exponential_backoff

from flows.dataset import build_dataset
from mtl.changes import Changes, record_decision, what_changed
from mtl.config import Params, load_params
from mtl.gate import table_rows
from mtl.notify import Outcome, announce, report_failure
from mtl.offline import go_offline
from mtl.pipeline import ReproResult, push_promoted, repro, workspace_lock

if TYPE_CHECKING:
    from mtl.stages import Promotion


@task(task_run_name="{stage}")  # no retries: a stage that failed (bad data, training, the gate) fails again
def run_stage(root: Path, stage: str) -> ReproResult:
    return repro(root, stage)


@task
def find_changes(params_file: Path) -> Changes:
    return what_changed(load_params(params_file))


@task  # no retries: a publish plus a conditional alias move; the S3 store retries its own requests
def promote(params_file: Path) -> Promotion:
    from mtl.stages import promote_candidate  # torch: only runs that promote pay for the import

    return promote_candidate(load_params(params_file), reason="retrain flow: every task passed its gate")


@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5), retry_jitter_factor=0.5)
def push_data(params_file: Path) -> str | None:  # object storage: transient failures are retried
    return push_promoted(load_params(params_file))


def _failed(flow, flow_run, state) -> None:  # on_failure / on_crashed hook
    report_failure(Path(flow_run.parameters.get("params_file", "params.yaml")), state.message or state.name)


@flow(name="retrain", on_failure=[_failed], on_crashed=[_failed])
def retrain(params_file: Path = Path("params.yaml"), skip_unchanged: bool = False) -> dict:
    """skip_unchanged: end as "skipped" when neither data, code nor params changed since the last decided
    candidate (the scheduled deployment sets it; on demand, the gate is re-checked against production)."""
    started = time.monotonic()
    params = load_params(params_file)
    with workspace_lock(params.root):
        changes = find_changes(params_file) if skip_unchanged else None
        if changes is not None and changes.nothing:
            summary = f"nothing to do: {changes.describe()}; production is {changes.production or 'none'}"
            return _finish(Outcome("skipped", summary, [], production=changes.production), params, started)

        ran = build_dataset(params_file)["stages_run"]
        ran += [stage for name in ("train", "evaluate", "gate") for stage in run_stage(params.root, name).ran]
        gate = json.loads((params.reports_dir / "gate.json").read_text())
        gate_table = (params.reports_dir / "gate.md").read_text()
        create_markdown_artifact(key="gate", markdown=gate_table, description="Per-task gate decision")
        create_table_artifact(key="gate-rows", table=table_rows(gate), description="Per-task gate rows")
        why = changes.describe() if changes else "run on demand"
        if gate["verdict"] == "pass":
            push_data(params_file)  # before the alias moves: production never points at data we could not keep
            promotion = promote(params_file)
            summary = (
                f"promoted {promotion.version} to production (replacing {promotion.replaced or 'nothing'})"
                if promotion.changed
                else f"production model unchanged: {promotion.version} already holds the candidate's weights"
            )
            kind = "promoted" if promotion.changed else "unchanged"
            outcome = Outcome(kind, summary, ran, why, promotion.version, promotion.replaced)
        else:
            production = gate.get("production_version")
            summary = f"the gate refused the candidate; production is unchanged ({production or 'none'})"
            outcome = Outcome("refused", summary, ran, why, production)
        record_decision(params, outcome.outcome)
        return _finish(outcome, params, started, gate, gate_table)


def _finish(outcome: Outcome, params: Params, started: float, gate: dict | None = None, gate_table: str = "") -> dict:
    outcome = replace(outcome, seconds=round(time.monotonic() - started, 2))
    announce(outcome, params)
    print(f"{outcome.summary}\nstages run: {', '.join(outcome.stages_run) or 'none'}\n\n{gate_table}")
    return {
        "outcome": outcome.outcome, "summary": outcome.summary, "stages_run": outcome.stages_run, "gate": gate,
        "changes": outcome.changes, "production": outcome.production, "seconds": outcome.seconds,
    }


if __name__ == "__main__":
    go_offline()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--skip-unchanged", action="store_true", help="End as skipped when nothing changed.")
    arguments = parser.parse_args()
    retrain(arguments.params.resolve(), skip_unchanged=arguments.skip_unchanged)
