"""A throwaway copy of the project for integration tests and benchmarks: its own git + DVC repo, a small
corpora mirror cut from the real corpora, and a params.yaml that points at it.

A built workspace copies whole (copy_workspace): DVC's cache, dvc.lock and the registry folder hold only
paths relative to it, so a copy is up to date exactly where the original was, run cache included.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mtl.pipeline import dvc

REPO = Path(__file__).resolve().parents[1]

# A workspace that trains in seconds. The tests and bench/schedule.py need "a model" (one that beats three
# steps of training), not a good one.
TINY = {
    "model": {"words": {"dim": 16, "char_dim": 8, "char_filters": 16}, "bilstm": {"hidden_size": 32, "layers": 1}},
    "training": {"max_steps": 60, "eval_every": 30, "checkpoint_every": 30, "batch_size": 400, "warmup_steps": 5,
                 "lr": 0.01, "processes": 1, "threads": 1},  # one process: a second costs more than it saves here
    "evaluation": {"n_bootstrap": 0},
    "gate": {"min_examples": 1, "inconclusive": "allow", "n_bootstrap": 200},
}
# make_workspace(open_gate=True) gives every task this gate: every candidate passes (the floor is below, and
# max_drop as wide as, the range of every metric the tasks report: accuracy and F1 in [0, 1], Pearson in
# [-1, 1]). For tests about when the pipeline runs, not about what the gate decides; a test that
# exercises the gate tightens it.
OPEN_GATE = {"floor": -1.0, "max_drop": 2.0}


@dataclass
class Workspace:
    root: Path
    mirror: Path  # the small corpora mirror: read-only, shared by copies
    sentences: int  # units (sentences, lines) per corpus file in the mirror

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    @property
    def env(self) -> dict[str, str]:
        """The environment a process working in this workspace needs (the mirror it pulls from)."""
        return {**os.environ, "MTL_CORPORA_MIRROR": str(self.mirror)}

    def set_params(self, **sections: dict) -> None:
        """Merge `sections` into params.yaml (nested keys override one by one)."""
        params = yaml.safe_load(self.params_file.read_text())
        self.params_file.write_text(yaml.safe_dump(_merged(params, sections), sort_keys=False))


def head_units(text: str, n: int, blank_separated: bool, header: bool) -> str:
    """The first n sentences (blank-line separated blocks) or n data lines of a corpus file."""
    if blank_separated:
        blocks, current = [], []
        for line in text.splitlines(keepends=True):
            current.append(line)
            if not line.strip():
                blocks.append("".join(current))
                current = []
                if len(blocks) == n:
                    break
        return "".join(blocks)
    lines = text.splitlines(keepends=True)
    return "".join(lines[: n + (1 if header else 0)])


def make_small_mirror(shared: Path, mirror: Path, n: int, default_params: dict) -> dict:
    """Cut the first n units of every corpus file into `mirror`; return corpora params with new sha256s."""
    corpora = yaml.safe_load(yaml.safe_dump(default_params["corpora"]))
    for name, corpus in corpora.items():
        folder = corpus.get("mirror_name", name)
        blank_separated = corpus["format"] in ("conllu", "conll")
        encoding = corpus.get("options", {}).get("encoding", "utf-8")
        for file in corpus["files"].values():
            header = {**corpus.get("options", {}), **file.get("options", {})}.get("header", False)
            text = (shared / folder / file["path"]).read_bytes().decode(encoding)
            data = head_units(text, n, blank_separated, header).encode(encoding)
            (mirror / folder).mkdir(parents=True, exist_ok=True)
            (mirror / folder / file["path"]).write_bytes(data)
            file["sha256"] = hashlib.sha256(data).hexdigest()
            file.pop("url", None)
    return corpora


def make_workspace(tmp: Path, shared: Path, n: int = 200, open_gate: bool = False,
                   corpora: Sequence[str] | None = None, **overrides: dict) -> Workspace:
    """A git + DVC repository holding the project's pipeline definition and code, on small corpora;
    `overrides` are merged into the project's params.yaml section by section (then OPEN_GATE, if asked).
    corpora: only these of params.yaml's corpora (default: all), with the tasks they feed and their gates."""
    root, mirror = tmp / "workspace", tmp / "mirror"
    root.mkdir()
    for item in ("dvc.yaml", "mtl"):
        source = REPO / item
        if source.is_dir():
            shutil.copytree(source, root / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / item)
    params = _only(yaml.safe_load((REPO / "params.yaml").read_text()), corpora)
    params["corpora"] = make_small_mirror(shared, mirror, n, params)
    params = _merged(params, overrides)
    if open_gate:
        params = _merged(params, {"gate": {"tasks": {task: OPEN_GATE for task in params["tasks"]}}})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    dvc(root, "config", "core.check_update", "false")
    return Workspace(root, mirror, n)


def copy_workspace(source: Workspace, tmp: Path) -> Workspace:
    """A copy of a (built) workspace under tmp, sharing its read-only mirror. DVC's run lock and state
    database stay behind: they describe the original's processes and inodes."""
    root = tmp / "workspace"
    shutil.copytree(source.root, root, symlinks=True, ignore=shutil.ignore_patterns("tmp"))
    return Workspace(root, source.mirror, source.sentences)


def mtl(workspace: Workspace, *args: str, input: str | None = None) -> str:
    """Run the real `mtl` command line in the workspace, with the small mirror configured."""
    command = [sys.executable, "-m", "mtl.cli", *args, "--params", str(workspace.params_file)]
    return run(workspace.root, *command, env=workspace.env, input=input)


def run(cwd: Path, *command: str, env: dict | None = None, input: str | None = None) -> str:
    process = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, input=input)
    if process.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({process.returncode}):\n{process.stdout}\n{process.stderr}")
    return process.stdout + process.stderr


def _only(params: dict, corpora: Sequence[str] | None) -> dict:
    if corpora is None:
        return params
    tasks = {params["corpora"][name]["task"] for name in corpora}

    def kept(by_task: dict) -> dict:  # a section keyed by task names: naming an absent task is a params error
        return {name: value for name, value in by_task.items() if name in tasks}

    training = params.get("training", {})
    return {
        **params,
        "corpora": {name: params["corpora"][name] for name in corpora},
        "tasks": kept(params["tasks"]),
        "gate": {**params["gate"], "tasks": kept(params["gate"]["tasks"])},
        "training": {**training, "loss_weights": kept(training.get("loss_weights", {}))},
    }


def _merged(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged
