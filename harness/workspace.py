"""A throwaway copy of the project for integration tests: its own git + DVC repo, a small corpora
mirror cut from the real corpora, and a params.yaml that points at it."""

from __future__ import annotations

import hashlib
import shutil
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from mtl.pipeline import dvc

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Workspace:
    root: Path
    mirror: Path

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"


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
        blank_separated = corpus["format"] in ("conllu", "conll")
        encoding = corpus.get("options", {}).get("encoding", "utf-8")
        for file in corpus["files"].values():
            header = {**corpus.get("options", {}), **file.get("options", {})}.get("header", False)
            text = (shared / name / file["path"]).read_bytes().decode(encoding)
            data = head_units(text, n, blank_separated, header).encode(encoding)
            (mirror / name).mkdir(parents=True, exist_ok=True)
            (mirror / name / file["path"]).write_bytes(data)
            file["sha256"] = hashlib.sha256(data).hexdigest()
            file.pop("url", None)
    return corpora


def make_workspace(tmp: Path, shared: Path, n: int = 200, **overrides) -> Workspace:
    """A git + DVC repository holding the project's pipeline definition and code, on small corpora."""
    root, mirror = tmp / "workspace", tmp / "mirror"
    root.mkdir()
    for item in ("dvc.yaml", "mtl"):
        source = REPO / item
        if source.is_dir():
            shutil.copytree(source, root / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / item)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["corpora"] = make_small_mirror(shared, mirror, n, params)
    for key, value in overrides.items():
        params[key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    dvc(root, "config", "core.check_update", "false")
    return Workspace(root, mirror)


def mtl(workspace: Workspace, *args: str, input: str | None = None) -> str:
    """Run the real `mtl` command line in the workspace, with the small mirror configured."""
    env = {**os.environ, "MTL_CORPORA_MIRROR": str(workspace.mirror)}
    command = [sys.executable, "-m", "mtl.cli", *args, "--params", str(workspace.params_file)]
    return run(workspace.root, *command, env=env, input=input)


def run(cwd: Path, *command: str, env: dict | None = None, input: str | None = None) -> str:
    process = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, input=input)
    if process.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({process.returncode}):\n{process.stdout}\n{process.stderr}")
    return process.stdout + process.stderr
