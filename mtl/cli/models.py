"""The models: `mtl registry ...`, `mtl predict`, `mtl serve`, `mtl export`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mtl.cli.common import ParamsOption, Tokenizer, fail, read_params, app, registry_app


@registry_app.command("list")
def registry_list(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Every complete version with its aliases, gate verdict and headline metrics.

    Example: mtl registry list
    """
    from mtl.registry import RegistryError, open_registry

    try:
        rows = open_registry(read_params(params_file)).list_versions()
    except RegistryError as error:
        fail(str(error))
    if not rows:
        typer.echo("the registry is empty")
    for row in rows:
        metrics = "  ".join(f"{name}={value:.4f}" for name, value in row["metrics"].items())
        aliases = ",".join(row["aliases"]) or "-"
        typer.echo(f"{row['version']}  {row['created']}  [{aliases}]  gate={row['gate']}  {metrics}")


@registry_app.command("show")
def registry_show(
    ref: Annotated[str, typer.Argument(help="A version (v0003) or an alias (production).")] = "production",
    params_file: ParamsOption = Path("params.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Everything the version holds (manifest, metrics, gate, "
                                                         "lineage) as JSON instead of its model card.")] = False,
) -> None:
    """A version's model card: data, tasks, scores with intervals, training and how it stopped, gate, lineage.

    Example: mtl registry show v0002   (or: mtl registry show production --json)
    """
    from mtl.registry import RegistryError, open_registry

    try:
        registry = open_registry(read_params(params_file))
        typer.echo(json.dumps(registry.show(ref), indent=2) if as_json else registry.card(ref))
    except RegistryError as error:
        fail(str(error))


@registry_app.command("rollback")
def registry_rollback(
    alias: Annotated[str, typer.Argument()] = "production",
    params_file: ParamsOption = Path("params.yaml"),
    reason: Annotated[str, typer.Option(help="Why, recorded with the alias move.")] = "",
) -> None:
    """Move an alias back to the version it replaced.

    Example: mtl registry rollback production --reason "v0003 mislabels dates"
    """
    from mtl.registry import RegistryError, open_registry

    try:
        record = open_registry(read_params(params_file)).rollback(alias, reason)
    except RegistryError as error:
        fail(str(error))
    typer.echo(f"{alias} -> {record['version']} (was {record['previous']})")


@registry_app.command("gc")
def registry_gc(
    params_file: ParamsOption = Path("params.yaml"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
) -> None:
    """Remove what killed promotions left: incomplete versions' files (their id stays taken) and temporary
    files, once older than registry.gc_grace_hours. Never a version an alias or the history names.
    Each promotion does the same first.

    Example: mtl registry gc --dry-run
    """
    from mtl.registry import RegistryError, open_registry

    try:
        collected = open_registry(read_params(params_file)).collect_garbage(dry_run=dry_run)
    except RegistryError as error:
        fail(str(error))
    verb = "would remove" if dry_run else "removed"
    for version in collected.versions:
        typer.echo(f"{verb} incomplete version {version}")
    typer.echo(f"{verb} {len(collected.files)} file(s)" + "".join(f"\n  {name}" for name in collected.files))
    for why in collected.kept:
        typer.echo(f"kept {why}")


@app.command()
def predict(
    model: Annotated[str, typer.Option(help="A registry alias or version, or a model folder (fp32 or int8).")] = "production",
    input_file: Annotated[Path | None, typer.Option("--input", help="One sentence per line (default: stdin).")] = None,
    pairs: Annotated[bool, typer.Option("--pairs", help="Each line is a pair, its two texts split by a TAB: the "
                                                        "tasks that read pairs answer.")] = False,
    tokenizer: Annotated[Tokenizer | None, typer.Option(help="How to split raw text (default: the tokenizer the "
                                                             "model folder records).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Every task's prediction for each input sentence (JSON lines), from one pass of the shared encoder.

    Example: echo "I don't like it ." | mtl predict --model production
    """
    import sys

    import mtl
    from mtl.model.predict import Predictor
    from mtl.registry import PRODUCTION, RegistryError

    read_params(params_file)
    text = input_file.read_bytes() if input_file else sys.stdin.buffer.read()
    try:
        lines = [line for line in text.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as error:
        fail(f"predict: {input_file or 'stdin'}: not UTF-8 text (byte {error.start + 1}: {error.reason})")
    inputs: list = lines
    if pairs:
        bad = [i + 1 for i, line in enumerate(lines) if line.count("\t") != 1]
        if bad:
            fail(f"predict --pairs: line(s) {bad[:5]} of {input_file or 'stdin'} are not two texts split by one TAB")
        inputs = [tuple(line.split("\t")) for line in lines]
    try:
        predictor = mtl.load(model, params=params_file)
    except RegistryError as error:
        if model == PRODUCTION and "neither a version nor an alias" in str(error):
            fail("predict: no production model yet: run `make run` (or `mtl run`), or pass --model "
                  "runs/candidate/model")
        fail(f"predict: {error}")
    if tokenizer is not None:
        predictor = Predictor(predictor.model, tokenizer.value, predictor.precision)
    tokens = predictor.tokens_of(inputs)
    for words, predictions in zip(tokens, predictor.predict(tokens) if tokens else []):
        typer.echo(json.dumps({"tokens": words, **predictions}, ensure_ascii=False))


@app.command()
def serve(
    model: Annotated[str, typer.Option(help="A registry alias (followed when it moves), a version, or a model "
                                            "folder (fp32 or int8).")] = "production",
    host: Annotated[str | None, typer.Option(help="Address to bind (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Serve the model over HTTP until interrupted: POST /v1/predict, GET /v1/model, /healthz, /readyz, /metrics.

    Example: mtl serve --model production --port 8000
    """
    from mtl.serve import serve as run_service

    run_service(read_params(params_file), model, host=host, port=port)


@app.command()
def export(
    quantize: Annotated[str, typer.Option(help="The quantization: int8 (dynamic, Linear and LSTM layers).")] = "int8",
    model: Annotated[str, typer.Option(help="A registry alias or version, or a model folder.")] = "production",
    out: Annotated[Path | None, typer.Option(help="The folder to write (default: exports/<version>-int8).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Export although a task drops beyond its gate's max_drop.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why, kept in the folder (required with --force).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Write an int8 copy of a model, refused when any task's test score drops beyond its gate's max_drop.

    Example: mtl export --quantize int8 --model production --out exports/int8
    """
    from mtl.export import ExportRefused, export_int8, to_markdown
    from mtl.registry import RegistryError

    if quantize != "int8":
        fail(f"export: unknown quantization {quantize!r}; known: int8")
    try:
        result = export_int8(read_params(params_file), model, out, force=force, reason=reason)
    except (ExportRefused, RegistryError) as error:
        fail(f"export: {error}")
    typer.echo(to_markdown(result.comparison))
    typer.echo(("FORCED: " if result.forced else "") + f"wrote {result.folder}")
