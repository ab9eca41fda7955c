"""The command line's frame: the app and its groups, the shared --params option, and the root's --version."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mtl.config import Params, load_params
from mtl.offline import go_offline

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
corpora_app = typer.Typer(no_args_is_help=True, help="Corpus files: fetch and verify.")
app.add_typer(corpora_app, name="corpora")
registry_app = typer.Typer(no_args_is_help=True, help="Model versions and aliases.")
app.add_typer(registry_app, name="registry")

ParamsOption = Annotated[Path, typer.Option("--params", help="The configuration file.")]


class Tokenizer(str, Enum):  # mtl/corpora/tokenize.py's names, for the command line
    treebank = "treebank"
    wordpunct = "wordpunct"
    whitespace = "whitespace"


def read_params(path: Path) -> Params:
    go_offline()
    return load_params(path)


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)



def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mtl {version('mtl')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """mtl: multi-task NLP training pipeline. `mtl run` runs the whole job; each stage is a command too.

    Example: mtl run --params params.yaml"""
