"""Running the pipeline that dvc.yaml defines: the one place that shells out to DVC.

The Prefect flows and `make run` go through here, so DVC's cache decides what is skipped and dvc.lock
records lineage. DVC holds a repository lock for a whole command: callers run these one at a time.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mtl.config import ConfigError, Params
from mtl.errors import MtlError
from mtl.logs import LOGGED_LINE
from mtl.offline import OFFLINE_ENVIRONMENT

Logger = logging.Logger | logging.LoggerAdapter
StageStatus = Literal["ran", "restored", "skipped"]

logger = logging.getLogger(__name__)

# What `dvc repro` says about each stage (DVC 3.x), one line each.
_STAGE_LINES: list[tuple[re.Pattern, StageStatus]] = [
    (re.compile(r"^Running stage '([^']+)':$"), "ran"),
    (re.compile(r"^Stage '([^']+)' is cached - skipping run, checking out outputs$"), "restored"),
    (re.compile(r"^Stage '([^']+)' didn't change, skipping$"), "skipped"),
]
_STAGE_DONE = re.compile(r"^(Generating|Updating) lock file ")  # DVC writes a stage's dvc.lock entry once its command ended
# DVC's own chatter: data sources it checked, git hints. Kept at debug level.
_DVC_CHATTER = re.compile(r"^('[^']+' didn't change, skipping|To track the changes with git|To enable auto staging"
                          r"|\tgit add |\tdvc config |Use `dvc push` to send)")
_PROBLEM = re.compile(r"^(?:(?P<warning>warning|WARNING)|(?P<error>error|ERROR)): ")
_TAIL_LINES = 60  # of a failed command's output, in the exception (the whole output went to the log)


class StageFailed(MtlError):
    pass


@dataclass(frozen=True)
class ReproResult:
    target: str
    ran: list[str]  # stages DVC executed
    restored: list[str]  # stages DVC restored from its run cache: same deps, params and command as an earlier run
    skipped: list[str]  # stages DVC found up to date
    output: str

    @property
    def status(self) -> StageStatus:
        """What DVC did with the target stage itself."""
        return "ran" if self.target in self.ran else "restored" if self.target in self.restored else "skipped"


def _environment() -> dict[str, str]:
    # Stage commands are `mtl ...`: make sure the `mtl` and `dvc` beside this interpreter are found first.
    env = {**OFFLINE_ENVIRONMENT, **os.environ, "PYTHONUNBUFFERED": "1"}  # a stage's lines arrive as printed
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


def _run_told(command: list[str] | str, root: Path, progress: _StageProgress, *, what: str,
              shell: bool = False) -> None:
    """Run `command` in the workspace with DVC's environment, every line it prints told through `progress`; a
    failure raises StageFailed with the output's tail."""
    with subprocess.Popen(command, shell=shell, cwd=root, env=_environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as process:
        for line in process.stdout:
            progress.read(line.rstrip("\n"))
    progress.end(failed=process.returncode != 0)
    if process.returncode != 0:
        tail = "\n".join(progress.lines[-_TAIL_LINES:]).strip()
        raise StageFailed(f"{what} failed in {root}:\n{tail}")


def repro(root: Path, target: str, log: Logger = logger, single: bool = False) -> ReproResult:
    """`dvc repro TARGET`, told as it happens: each stage's start and end (ran, restored from the run
    cache, or skipped as up to date) and every line its command prints go to `log` (the flows pass
    Prefect's run logger, so the UI shows the same lines). A failure raises with the output's tail.
    single: the target alone (`--single-item`), for callers that brought its upstream up to date first:
    DVC neither walks the upstream stages again nor reruns an always_changed one among them."""
    progress = _StageProgress(log, target)
    _run_told([sys.executable, "-m", "dvc", "repro", *(["--single-item"] if single else []), target], root, progress,
              what=f"`dvc repro {target}`")
    return ReproResult(target, progress.stages["ran"], progress.stages["restored"], progress.stages["skipped"],
                       "\n".join(progress.lines))


@dataclass
class _StageProgress:
    """Reads `dvc repro`'s output line by line: logs each stage's start and end, relays its command's lines
    at the level they were logged with, and keeps which stages ran, were restored or skipped. Upstream
    stages found up to date are only worth a debug line: the flows run (and log) each stage in turn."""

    log: Logger
    target: str
    lines: list[str] = field(default_factory=list)
    stages: dict[StageStatus, list[str]] = field(default_factory=lambda: {"ran": [], "restored": [], "skipped": []})
    running: str | None = None
    started: float = 0.0

    def read(self, line: str) -> None:
        self.lines.append(line)
        for pattern, status in _STAGE_LINES:
            if match := pattern.match(line):
                self._stage(match.group(1), status)
                return
        if _STAGE_DONE.match(line):
            self.end(failed=False)
        elif _DVC_CHATTER.match(line):
            self.log.debug(line)
        elif line.strip():
            self._relay(line)

    def end(self, failed: bool) -> None:
        if self.running is not None:
            seconds = time.monotonic() - self.started
            if failed:
                self.log.error("stage %s: failed after %.1f s", self.running, seconds)
            else:
                self.log.info("stage %s: ran in %.1f s", self.running, seconds)
            self.running = None

    def _stage(self, stage: str, status: StageStatus) -> None:
        self.end(failed=False)
        self.stages[status].append(stage)
        if status == "ran":
            self.running, self.started = stage, time.monotonic()
            self.log.info("stage %s: started", stage)
        elif status == "restored":
            self.log.info("stage %s: restored from DVC's run cache (it ran before with these deps and params)", stage)
        else:
            self.log.log(logging.INFO if stage == self.target else logging.DEBUG, "stage %s: skipped, up to date", stage)

    def _relay(self, line: str) -> None:
        """A line a stage command printed: at the level it was logged with (mtl/logs.py), or warning and error
        for `warning: ...` and `error: ...` lines (the CLI's, and DVC's `ERROR: ...`)."""
        prefix = f"{self.running} | " if self.running else ""
        if logged := LOGGED_LINE.match(line):
            self.log.log(logging.getLevelName(logged["level"]), "%s%s", prefix, logged["text"])
        elif problem := _PROBLEM.match(line):
            self.log.log(logging.WARNING if problem["warning"] else logging.ERROR, "%s%s", prefix, line)
        else:
            self.log.info("%s%s", prefix, line)


@dataclass
class Pending:
    """What `dvc repro` would do along a flow's stages, asked once (`dvc status`, one DVC process) rather than
    once per stage: a stage that status found up to date is reported skipped without starting DVC, until a
    stage runs or is restored; from then on every later stage goes through `dvc repro` (its inputs may be
    new), and DVC decides. Callers run the stages in pipeline order, so each stage is reproduced alone."""

    root: Path
    outdated: set[str]  # stages (and .dvc files) not up to date when asked
    changed: bool = False  # a stage ran or was restored since

    @classmethod
    def ask(cls, root: Path, target: str) -> Pending:
        return cls(root, set(dvc_status(root, target)))

    @classmethod
    def after(cls, earlier: Sequence[ReproResult], root: Path, target: str) -> Pending:
        """For the stages that follow `earlier` ones: no need to ask when one of those changed something."""
        if any(result.ran or result.restored for result in earlier):
            return cls(root, set(), changed=True)
        return cls.ask(root, target)

    def repro(self, stage: str, log: Logger = logger) -> ReproResult:
        if not self.changed and stage not in self.outdated:
            log.info("stage %s: skipped, up to date", stage)
            return ReproResult(stage, [], [], [stage], "")
        result = repro(self.root, stage, log, single=True)
        self.changed = self.changed or bool(result.ran or result.restored)
        return result


# --- stages run side by side (the dataset flow on Dask): DVC decides what runs and records it ------------
# DVC locks the workspace for a whole command, so outdated stages cannot be `dvc repro`-ed at once. Instead
# each one is prepared as `dvc repro` would (outputs removed), its own command (dvc.yaml's cmd) runs anywhere
# in parallel, and `dvc commit` then records the stages one at a time: dvc.lock and the run cache hold them
# as if `dvc repro` had run them, so the next run skips them.


def outdated(pending: Pending, stages: Sequence[str]) -> list[str]:
    """Those of `stages` that `dvc status` found out of date (everything, once a stage ran or was restored)."""
    return [stage for stage in stages if pending.changed or stage in pending.outdated]


def prepare(root: Path, stage: str) -> str:
    """The stage's command as DVC resolves it from dvc.yaml, after removing the stage's outputs as `dvc repro`
    does before running it (so a command writing into a folder finds it empty, as under DVC)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo, repo.lock:  # DVC's workspace lock, as `dvc repro` holds it here
        (found,) = repo.stage.collect(stage)
        found.remove_outs(ignore_remove=False, force=False)
        return found.cmd


def run_command(root: Path, stage: str, command: str, log: Logger = logger) -> ReproResult:
    """A prepared stage's command in the workspace, in DVC's environment, told as `repro` tells a stage (its
    start, its lines, its end). It does not touch DVC: commit() records it afterwards."""
    progress = _StageProgress(log, stage)
    progress.read(f"Running stage '{stage}':")
    _run_told(command, root, progress, what=f"`{command}` (stage {stage})", shell=True)  # a shell, as DVC runs a cmd
    return ReproResult(stage, [stage], [], [], "\n".join(progress.lines[1:]))


def commit(root: Path, stage: str) -> None:
    """`dvc commit --force STAGE`: the stage's deps, params and outputs into dvc.lock, its outputs into the cache
    and the run cache. One at a time: each takes DVC's workspace lock."""
    dvc(root, "commit", "--force", "--quiet", stage)


def stages_that(status: StageStatus, results: Sequence[ReproResult]) -> list[str]:
    """The stages that ran (or were restored, or skipped) across several `repro` calls, in order."""
    return [stage for result in results for stage in getattr(result, status)]


def require_workspace_params(params_file: Path) -> None:
    """DVC's stages read the workspace's params.yaml whatever file a flow is given (dvc.yaml's commands
    take no --params, and DVC tracks params.yaml's keys): refuse any other file rather than run the stages
    on one configuration and the rest of the flow on another."""
    params_file = params_file.resolve()
    if params_file.name != "params.yaml" or not is_dvc_workspace(params_file.parent):
        raise ConfigError(
            f"{params_file}: the pipeline runs through DVC, which reads params.yaml in the DVC workspace (the "
            "folder holding .dvc/ and dvc.yaml). To run it on another configuration, make that file the "
            "params.yaml of a workspace of its own (a clone, or `git worktree add`), or run single stages "
            "directly with `mtl <stage> --params FILE`"
        )


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


class WorkspaceBusy(MtlError):
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
