"""Prefect flow: the whole job. Data stages, train, evaluate, gate (all through DVC), then promote
when every task clears its gate. `make run` runs it on the default configuration.

    python -m flows.retrain [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.dataset import build_dataset
from mtl.config import load_params
from mtl.offline import go_offline
from mtl.pipeline import ReproResult, push_promoted, repro
from mtl.stages import Promotion, promote_candidate


@task(task_run_name="{stage}")
def run_stage(root: Path, stage: str) -> ReproResult:
    return repro(root, stage)


@task
def promote(params_file: Path) -> Promotion:
    return promote_candidate(load_params(params_file), reason="retrain flow: every task passed its gate")


@task(retries=3, retry_delay_seconds=[5, 20, 60])  # object storage: transient failures are retried
def push_data(params_file: Path) -> str | None:
    return push_promoted(load_params(params_file))


@flow(name="retrain")
def retrain(params_file: Path = Path("params.yaml")) -> dict:
    params = load_params(params_file)
    ran = build_dataset(params_file)["stages_run"]
    ran += [stage for name in ("train", "evaluate", "gate") for stage in run_stage(params.root, name).ran]

    gate = json.loads((params.reports_dir / "gate.json").read_text())
    gate_table = (params.reports_dir / "gate.md").read_text()
    create_markdown_artifact(key="gate", markdown=gate_table, description="Per-task gate decision")

    if gate["verdict"] == "pass":
        promotion = promote(params_file)
        if promotion.changed:
            push_data(params_file)  # so the promoted version's data can always be recovered
        outcome = "promoted" if promotion.changed else "unchanged"
        summary = (
            f"promoted {promotion.version} to production (replacing {promotion.replaced or 'nothing'})"
            if promotion.changed
            else f"production model unchanged: {promotion.version} already holds the candidate's weights"
        )
    else:
        outcome, summary = "refused", "the gate refused the candidate; production is unchanged"
    print(f"{summary}\nstages run: {', '.join(ran) or 'none (everything up to date)'}\n\n{gate_table}")
    return {"outcome": outcome, "summary": summary, "stages_run": ran, "gate": gate}


if __name__ == "__main__":
    go_offline()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    retrain(parser.parse_args().params.resolve())
