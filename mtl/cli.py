"""`mtl <verb>`: a thin command line over the modules. Every command takes --params FILE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mtl.config import ConfigError, Params, load_params
from mtl.offline import go_offline

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
corpora_app = typer.Typer(no_args_is_help=True, help="Corpus files: fetch and verify.")
app.add_typer(corpora_app, name="corpora")

ParamsOption = Annotated[Path, typer.Option("--params", help="The configuration file.")]


def _params(path: Path) -> Params:
    go_offline()
    return load_params(path)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@corpora_app.command("pull")
def corpora_pull(
    names: Annotated[list[str] | None, typer.Argument(help="Corpora to pull (default: all in params).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
    track: Annotated[bool, typer.Option(help="Version the raw folder with `dvc add` when in a DVC workspace.")] = True,
) -> None:
    """Fill the raw folder from MTL_CORPORA_MIRROR or the public URLs, verifying every sha256."""
    from mtl.corpora.fetch import FetchError, pull_corpora
    from mtl.pipeline import StageFailed, is_dvc_workspace, track as dvc_track

    params = _params(params_file)
    try:
        for fetched in pull_corpora(params, names):
            typer.echo(f"{fetched.corpus}/{fetched.file}: {fetched.origin}")
        if track and is_dvc_workspace(params.root):
            dvc_track(params.root, params.raw_dir)
    except (FetchError, StageFailed) as error:
        _fail(str(error))


@app.command()
def ingest(
    corpus: Annotated[str, typer.Argument(help="The corpus to read and validate.")],
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Read one corpus, validate it, and write its records, quarantine and report."""
    from mtl.ingest import IngestFailed, ingest as run_ingest

    params = _params(params_file)
    try:
        result = run_ingest(corpus, params)
    except (IngestFailed, KeyError, FileNotFoundError) as error:
        _fail(f"ingest {corpus}: {error}")
    report = result.validation.report
    typer.echo(
        f"{corpus}: read {report['read']}, accepted {report['accepted']}, quarantined {report['quarantined']}"
        f" -> {result.output_dir}"
    )
    for issue in result.validation.issues:
        typer.echo(f"warning: {issue.message}", err=True)


@app.command()
def unify(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Build the task-tagged dataset from every corpus's accepted records."""
    from mtl.dataset import unify as run_unify

    params = _params(params_file)
    try:
        manifest = run_unify(params)
    except FileNotFoundError as error:
        _fail(f"unify: {error}; run the ingest stages first")
    typer.echo(json.dumps(manifest["tasks"], indent=1))


def main() -> None:
    try:
        app()
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
