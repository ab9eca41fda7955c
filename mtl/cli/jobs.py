"""The whole job: `mtl run` (the retrain flow once) and `mtl schedule` (served on its cron)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mtl.cli.common import ParamsOption, fail, read_params, app
from mtl.offline import go_offline


@app.command("run")
def run_job(
    params_file: ParamsOption = Path("params.yaml"),
    skip_unchanged: Annotated[bool, typer.Option("--skip-unchanged", help="End as skipped when nothing changed since the last decided candidate.")] = False,
) -> None:
    """The main job (what `make run` runs): the retrain flow. The DVC stages up to the gate, then a
    promotion when every task passes; each stage's start, end and output are logged as they happen.

    Example: mtl run --params params.yaml
    """
    from mtl.pipeline import require_workspace_params
    from mtl.schedule import retrain_flow

    go_offline()
    require_workspace_params(params_file)  # before Prefect starts: a wrong file is one `error:` line
    retrain_flow()(params_file.resolve(), skip_unchanged=skip_unchanged)  # so is a failed stage


@app.command()
def schedule(
    params_file: ParamsOption = Path("params.yaml"),
    interval: Annotated[float | None, typer.Option(help="Every this many seconds instead of params' cron (to try it out).")] = None,
) -> None:
    """Serve the retrain flow as a Prefect deployment on params' schedule until interrupted (needs PREFECT_API_URL).

    Example: mtl schedule --interval 60
    """
    from mtl.schedule import ScheduleError, serve

    try:
        serve(read_params(params_file), params_file, interval=interval)
    except ScheduleError as error:
        fail(f"schedule: {error}")
