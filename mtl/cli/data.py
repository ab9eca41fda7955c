"""`mtl corpora pull`, `mtl ingest`, `mtl unify`: the data stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mtl.cli.common import ParamsOption, fail, read_params, app, corpora_app


@corpora_app.command("pull")
def corpora_pull(
    names: Annotated[list[str] | None, typer.Argument(help="Corpora to pull (default: all in params).")] = None,
    params_file: ParamsOption = Path("params.yaml"),
    track: Annotated[bool, typer.Option(help="Version the raw folder with `dvc add` when in a DVC workspace.")] = True,
) -> None:
    """Fill the raw folder from MTL_CORPORA_MIRROR or the public URLs, verifying every sha256.

    Example: mtl corpora pull sst2 trec
    """
    from mtl.corpora.fetch import FetchError, pull_corpora
    from mtl.pipeline import StageFailed, is_dvc_workspace, track as dvc_track

    params = read_params(params_file)
    try:
        for fetched in pull_corpora(params, names):
            typer.echo(f"{fetched.corpus}/{fetched.file}: {fetched.origin}")
        if track and is_dvc_workspace(params.root):
            dvc_track(params.root, params.raw_dir)
    except (FetchError, StageFailed) as error:
        fail(str(error))


@app.command()
def ingest(
    corpus: Annotated[str, typer.Argument(help="The corpus to read and validate.")],
    params_file: ParamsOption = Path("params.yaml"),
) -> None:
    """Read one corpus, validate it, and write its records, quarantine and report.

    Example: mtl ingest sst2 --params params.yaml
    """
    from mtl.ingest import IngestFailed, ingest as run_ingest

    params = read_params(params_file)
    try:
        result = run_ingest(corpus, params)
    except (IngestFailed, KeyError, FileNotFoundError) as error:
        fail(f"ingest {corpus}: {error}")
    report = result.validation.report
    typer.echo(
        f"{corpus}: read {report['read']}, accepted {report['accepted']}, quarantined {report['quarantined']}"
        f" -> {result.output_dir}"
    )
    for issue in result.validation.issues:
        typer.echo(f"warning: {issue.message}", err=True)


@app.command()
def unify(params_file: ParamsOption = Path("params.yaml")) -> None:
    """Build the task-tagged dataset from every corpus's accepted records.

    Example: mtl unify
    """
    from mtl.dataset import unify as run_unify

    params = read_params(params_file)
    try:
        manifest = run_unify(params)
    except FileNotFoundError as error:
        fail(f"unify: {error}; run the ingest stages first")
    typer.echo(json.dumps(manifest["tasks"], indent=1))
