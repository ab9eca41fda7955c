"""Running the pipeline that dvc.yaml defines: the one place that shells out to DVC.

The Prefect flows and `make run` go through here, so DVC's cache decides what is skipped and dvc.lock
records lineage. DVC holds a repository lock for a whole command: callers run these one at a time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mtl.offline import OFFLINE_ENVIRONMENT

_RAN = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)
_SKIPPED = re.compile(r"^Stage '([^']+)' didn't change, skipping", re.MULTILINE)


class StageFailed(Exception):
    pass


@dataclass(frozen=True)
class ReproResult:
    target: str
    ran: list[str]  # stages DVC executed
    skipped: list[str]  # stages DVC found unchanged
    output: str


def _environment() -> dict[str, str]:
    # Stage commands are `mtl ...`: make sure the `mtl` and `dvc` beside this interpreter are found first.
    env = {**OFFLINE_ENVIRONMENT, **os.environ}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def dvc(root: Path, *args: str) -> str:
    """Run one DVC command in the workspace `root`; a failure raises with DVC's own message."""
    process = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        env=_environment(),
        capture_output=True,
        text=True,
    )
    output = process.stdout + process.stderr
    if process.returncode != 0:
        raise StageFailed(f"`dvc {' '.join(args)}` failed in {root}:\n{output.strip()}")
    return output


def repro(root: Path, target: str) -> ReproResult:
    output = dvc(root, "repro", target)
    return ReproResult(target, _RAN.findall(output), _SKIPPED.findall(output), output)


def track(root: Path, path: Path) -> None:
    """Version a data folder with DVC (`dvc add`): records its hash in <path>.dvc and caches it."""
    dvc(root, "add", "--quiet", str(path.relative_to(root)))


def is_dvc_workspace(root: Path) -> bool:
    return (root / ".dvc").is_dir()
