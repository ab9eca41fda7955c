"""The stages after the data: `mtl train` to `mtl promote`, the baselines and the transfer report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mtl.cli.common import ParamsOption, fail, read_params, app


@app.command()
def train(
    params_file: ParamsOption = Path("params.yaml"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue exactly from the last checkpoint.")] = False,
    nproc: Annotated[int | None, typer.Option("--nproc", help="Data-parallel processes (torchrun); default: "
                                                                "training.processes.")] = None,
) -> None:
    """Train the shared encoder and its task heads on the unified dataset -> <run>/model.

    Example: mtl train --resume   (or: mtl train --nproc 2)
    """
    from mtl.training import train as run_training
    from mtl.training.distributed import launch

    params = read_params(params_file)
    processes = nproc or params.training.processes
    if processes > 1 and "WORLD_SIZE" not in os.environ:  # not yet under torchrun: start the processes
        argv = ["train", "--params", str(params_file), *(["--resume"] if resume else [])]
        raise typer.Exit(launch(processes, argv))
    try:
        result = run_training(params, data_dir=params.unified_dir, out_dir=params.run_dir, resume=resume)
    except (FileNotFoundError, ValueError) as error:
        fail(f"train: {error}")
    if os.environ.get("RANK", "0") == "0":  # under torchrun the first process speaks for all
        typer.echo(f"trained {result.steps} steps ({result.stopped}); best dev score {result.best_score:.4f}")


@app.command()
def evaluate(
    params_file: ParamsOption = Path("params.yaml"),
    model: Annotated[str | None, typer.Option(help="Score this model instead (a folder, alias or version; "
                                                   "nothing is written). An int8 folder is compared with its fp32 "
                                                   "model per task, with paired intervals.")] = None,
) -> None:
    """Score the candidate per task on dev and test, with bootstrap intervals -> reports/metrics.json.

    Example: mtl evaluate   (or: mtl evaluate --model exports/int8)
    """
    params = read_params(params_file)
    if model is not None:
        from mtl.export import evaluate_any, to_markdown

        kind, result = evaluate_any(params, model)
        if kind == "int8":
            typer.echo(to_markdown(result))
            return
        metrics = {"test": result}
    else:
        from mtl.stages.evaluate import evaluate_candidate

        metrics = evaluate_candidate(params)
    scored = {"test": metrics["test"], **metrics.get("extra", {})}  # the extra evaluation sets beside test
    for name, evaluation in scored.items():
        for task, row in evaluation["per_task"].items():
            low, high = row["ci"] or (float("nan"), float("nan"))
            typer.echo(f"{task:>12} {name} {row['metric']}: {row['value']:.4f} [{low:.4f}, {high:.4f}] n={row['n']}")


@app.command()
def gate(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Decide per task: floor, and a paired test against production (Holm across tasks) -> reports/gate.json,
    gate.md, and production_metrics.json (production re-scored on the same test data, shaped like metrics.json).

    Example: mtl gate
    """
    from mtl.stages.gate import gate_candidate

    params = read_params(params_file)
    gate_candidate(params)
    typer.echo(params.report("gate_table").read_text(encoding="utf-8"))


@app.command()
def report(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Write the page to open in a browser (reports/report.html: training curves, scores with intervals, confusion,
    task mix, gate, drift, leakage, registry history; no network needed) and `dvc plots show`'s offline template.

    Example: mtl report && xdg-open reports/report.html
    """
    from mtl.report import write_report

    typer.echo(write_report(read_params(params_file)))


@app.command()
def promote(
    params_file: ParamsOption = Path("params.yaml"),
    reason: Annotated[str | None, typer.Option(help="Why, recorded with the alias move (required with --force).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote although the gate refused: an audited override (action 'force', who, why).")] = False,
) -> None:
    """Publish the gated candidate to the registry and move the production alias to it.

    Example: mtl promote --force --reason "known labelling bug in the new test data"
    """
    from mtl.registry import RegistryError
    from mtl.stages.promote import PromotionRefused, promote_candidate

    if force and not (reason or "").strip():
        fail('promote: --force needs --reason "...": an override of the gate must say why')
    try:
        result = promote_candidate(read_params(params_file), reason or "gate passed", force=force)
    except (PromotionRefused, RegistryError) as error:
        fail(f"promote: {error}")
    if result.forced:
        typer.echo(f"FORCED: promoted {result.version} to production against the gate (replacing {result.replaced or 'nothing'})")
    elif result.changed:
        typer.echo(f"promoted {result.version} to production (replacing {result.replaced or 'nothing'})")
    else:
        typer.echo(f"production model unchanged: {result.version} already holds these weights")


@app.command()
def baseline(
    tasks: Annotated[list[str] | None, typer.Option("--task", help="A task to train alone (repeatable; default: every task).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Train a single-task model per task with the same encoder, params and budget (baseline.budget)
    -> <run>/baselines/<task>/model. An analysis, not part of the retrain flow: `dvc repro transfer`.

    Example: mtl baseline --task pos
    """
    from mtl.baseline import train_baselines

    params = read_params(params_file)
    try:
        results = train_baselines(params, tasks)
    except (FileNotFoundError, ValueError) as error:
        fail(f"baseline: {error}")
    for task, result in results.items():
        typer.echo(f"{task}: trained {result.steps} steps ({params.baseline.budget} budget); best dev score {result.best_score:.4f}")


@app.command()
def transfer(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Per task on test: the multi-task candidate vs its single-task baseline (paired bootstrap: positive,
    negative or no significant transfer), and the cost of 1 vs N models -> reports/transfer.json, transfer.md.

    Example: mtl transfer
    """
    from mtl.transfer import transfer_report

    params = read_params(params_file)
    try:
        transfer_report(params)
    except (FileNotFoundError, ValueError) as error:
        fail(f"transfer: {error}")
    typer.echo(params.report("transfer_table").read_text(encoding="utf-8"))
