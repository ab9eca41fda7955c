"""Running the pipeline that dvc.yaml defines: the one place that shells out to DVC.

The Prefect flows and `make run` go through here, so DVC's cache decides what is skipped and dvc.lock
records lineage. DVC holds a repository lock for a whole command: callers run these one at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mtl.offline import OFFLINE_ENVIRONMENT

if TYPE_CHECKING:
    from mtl.config import Params

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


# --- remotes: where DVC keeps the data and models behind the registry's lineage ----------------------
# A remote's url and endpointurl live in .dvc/config (`add_remote`); its credentials come from the
# environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or a profile), never from config.local:
# `dvc data status` fails when S3 credentials live there.


def add_remote(root: Path, name: str, url: str, *, endpoint_url: str | None = None, default: bool = False) -> None:
    """`dvc remote add` (replacing a remote of that name), plus the S3-compatible server's URL if any."""
    dvc(root, "remote", "add", "--force", *(["--default"] if default else []), name, url)
    if endpoint_url:
        dvc(root, "remote", "modify", name, "endpointurl", endpoint_url)


def push(root: Path, remote: str | None = None, targets: Sequence[str | Path] = ()) -> str:
    """Upload cached data and stage outputs (all, or `targets`) to `remote` (None: the default remote)."""
    return dvc(root, "push", *_remote_option(remote), *map(str, targets))


def pull_data(root: Path, remote: str | None = None, targets: Sequence[str | Path] = ()) -> str:
    """Download what the .dvc files and dvc.lock name from `remote` into the cache and the workspace."""
    return dvc(root, "pull", *_remote_option(remote), *map(str, targets))


def push_promoted(params: Params) -> str | None:
    """After a promotion: push the workspace's data and outputs to params.registry.dvc_remote, so the
    dvc.lock hashes a registry version records as lineage can be pulled on any machine. Returns the
    remote's name, or None when no remote is configured (nothing is pushed)."""
    remote = params.registry.dvc_remote
    if remote is None:
        return None
    push(params.root, remote)
    return remote


def _remote_option(remote: str | None) -> list[str]:
    return ["--remote", remote] if remote else []


# --- what a scheduled run asks first, and one run per workspace ---------------------------------------


def dvc_status(root: Path, target: str = "gate") -> dict[str, list]:
    """`dvc status TARGET --with-deps --json`: every stage the target depends on (and .dvc file) that is
    not up to date, with DVC's reasons: {"changed deps": {path: state}}, {"changed outs": ...}, or the
    string "always changed". Scoped to the retrain pipeline's last stage, so analysis stages that the
    flow never runs (baseline, transfer) do not count as pending changes."""
    process = subprocess.run(
        [sys.executable, "-m", "dvc", "status", target, "--with-deps", "--json"],
        cwd=root, env=_environment(), capture_output=True, text=True,
    )
    if process.returncode != 0:
        raise StageFailed(f"`dvc status` failed in {root}:\n{(process.stdout + process.stderr).strip()}")
    return json.loads(process.stdout or "{}")


class WorkspaceBusy(Exception):
    pass


@contextmanager
def workspace_lock(root: Path) -> Iterator[Path]:
    """Hold the workspace for a whole pipeline run: an exclusive flock on .dvc/tmp/mtl-run.lock.

    DVC locks the repository for one command only, so two runs would interleave their stages; a second
    run fails at once with WorkspaceBusy naming the holder. The kernel drops the lock when the holding
    process ends, however it ends, so a crashed run never leaves the workspace locked."""
    path = root / ".dvc" / "tmp" / "mtl-run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WorkspaceBusy(
                f"another pipeline run holds the workspace {root} ({holder}; lock file {path}): "
                "one run at a time per workspace, try again when it has finished"
            ) from None
        try:
            handle.truncate(0)
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n")
            handle.flush()
            yield path
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
