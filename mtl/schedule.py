"""The scheduled retrain: the retrain flow as a Prefect deployment on params.yaml's `schedule:`.

`mtl schedule` serves it from this process (flow.serve's runner: it registers the deployment, polls
the Prefect server for due runs and runs each in a subprocess) until interrupted. prefect.yaml holds
the same deployment for a work pool (`prefect deploy`), for running it on other machines.

Scheduled runs set skip_unchanged: a night with no new data or params costs a `dvc status`, not a
training run. At most one run at a time: the runner's limit, and the workspace lock in the flow.

mtl sits below flows/: it names the flow by its entrypoint (as prefect.yaml does) and Prefect loads it
from the checkout; no module of mtl imports flows.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mtl.config import Params
from mtl.errors import MtlError

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

CODE_ROOT = Path(__file__).resolve().parents[1]  # the checkout: flows/ beside mtl/
ENTRYPOINT = "flows/retrain.py:retrain"  # relative to CODE_ROOT, as in prefect.yaml


class ScheduleError(MtlError):
    pass


def deployment(params: Params, params_file: Path, interval: float | None = None) -> RunnerDeployment:
    """The retrain deployment: params' cron and timezone, or every `interval` seconds (for trying it out)."""
    from prefect.schedules import Cron, Interval

    config = params.schedule
    schedule = Interval(timedelta(seconds=interval)) if interval else Cron(config.cron, timezone=config.timezone)
    retrain = retrain_flow()
    with contextlib.chdir(CODE_ROOT):  # the deployment's entrypoint is relative to the checkout
        return retrain.to_deployment(
            name=config.deployment,
            schedules=[schedule],
            parameters={"params_file": str(params_file.resolve()), "skip_unchanged": True},
            description=f"Scheduled retrain of {params.root}: skipped when nothing changed; gate, promote, notify.",
            tags=["mtl", "retrain"],
        )


def retrain_flow() -> Flow:
    """The retrain flow, loaded by its entrypoint from the checkout mtl is installed from (editable, as
    `make install` does): what `mtl run` runs and `mtl schedule` serves."""
    from prefect.flows import load_flow_from_entrypoint

    if not (CODE_ROOT / ENTRYPOINT.split(":")[0]).is_file():
        raise ScheduleError(f"{CODE_ROOT} holds no {ENTRYPOINT}: install mtl from a checkout (pip install -e .)")
    if str(CODE_ROOT) not in sys.path:
        sys.path.insert(0, str(CODE_ROOT))
    return load_flow_from_entrypoint(ENTRYPOINT.replace(".py:", ":").replace("/", "."))  # flows.retrain:retrain


def serve(params: Params, params_file: Path, interval: float | None = None) -> None:
    """Register the deployment and run its scheduled runs, one at a time, until interrupted (Ctrl-C
    pauses the schedule). Needs a Prefect server: PREFECT_API_URL (`prefect server start`)."""
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise ScheduleError(
            "no Prefect server: start one (`prefect server start --host 127.0.0.1`) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api; without a server nothing creates the scheduled runs"
        )
    params_file = params_file.resolve()
    os.chdir(CODE_ROOT)  # each run is a subprocess that imports flows/ from its working directory
    prefect_serve(deployment(params, params_file, interval), limit=1)
