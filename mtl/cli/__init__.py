"""`mtl <verb>`: a thin command line over the modules. Every command takes --params FILE.

common holds the app; data, stages, models and jobs register their commands on it. main is the one error
boundary.
"""

from __future__ import annotations

import os

import typer

# Each module registers its commands on app; `mtl --help` lists them in this order.
from mtl.cli import data  # noqa: F401, I001
from mtl.cli import stages  # noqa: F401
from mtl.cli import models  # noqa: F401
from mtl.cli import jobs  # noqa: F401
from mtl.cli.common import app
from mtl.errors import MtlError
from mtl.logs import log_to_stderr

__all__ = ["app", "main", "next_step"]


# Expected failures: any MtlError (each module's own: a bad config, input, file or store, a refused promotion),
# and what the operating system says of a file. Their message is the whole story: one line, exit code 1.
EXPECTED = (MtlError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, UnicodeDecodeError)


def main() -> None:
    # Before torch loads: idle OpenMP threads otherwise spin, and on a busy 2-core machine that cut
    # training from ~5k to ~400 tokens/s (measured).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    log_to_stderr()  # progress of stages and training, with a timestamp; `mtl run` relays it to the flow's log
    try:
        app()
    except EXPECTED as error:
        said = f"{error.filename}: missing" if isinstance(error, FileNotFoundError) and error.filename else error
        typer.echo(f"error: {said}{next_step(error)}", err=True)
        raise SystemExit(1) from None
    except Exception:
        typer.echo("error: an unexpected failure, which is a bug in mtl; the traceback follows. Please report it "
                   "with the command you ran.", err=True)
        raise


def next_step(error: BaseException) -> str:
    """What to do about a missing input a stage before would have written."""
    if not (isinstance(error, FileNotFoundError) or "missing" in str(error)):
        return ""
    where = str(getattr(error, "filename", None) or error)
    for produced_by, names in (("mtl train (or make run)", ("model.safetensors", "config.json", "/model")),
                               ("mtl evaluate", ("metrics.json",)), ("mtl gate", ("gate.json",)),
                               ("mtl unify", ("labels.json", ".parquet")), ("mtl corpora pull", ("data/raw",))):
        if any(name in where for name in names):
            return f" (run `{produced_by}` first)"
    return ""
