"""Lineage: where a candidate came from, recorded with every registry version it becomes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from mtl.config import Params


def lineage(params: Params) -> dict:
    """Where the candidate came from: the data and model hashes DVC recorded, the code commit, the params, and
    how its training ran and stopped."""
    lock_file = params.root / "dvc.lock"
    training = params.run_file("training")
    stages = yaml.safe_load(lock_file.read_text()).get("stages", {}) if lock_file.is_file() else {}
    hashes = {
        stage: {out["path"]: out.get("md5") for out in entry.get("outs", [])}
        for stage, entry in stages.items()
        if stage in ("unify", "train")
    }
    return {
        "dvc_lock": hashes,
        "git_commit": _git(params.root, "rev-parse", "HEAD"),
        "git_dirty": bool(_git(params.root, "status", "--porcelain", "--untracked-files=no")),
        "params": params.model_dump(mode="json", exclude={"root"}),
        "training": json.loads(training.read_text(encoding="utf-8")) if training.is_file() else None,
    }


def _git(root: Path, *args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
