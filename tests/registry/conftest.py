"""Fixtures for the registry tests: a tiny real model folder and a registry in tmp_path."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from mtl.registry import LocalStore, Registry


def make_model_dir(folder: Path, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    save_file({"encoder.weight": np.random.default_rng(seed).normal(size=(4, 3)).astype(np.float32)},
              str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"hidden": 3, "seed": seed}))
    (folder / "vocab.json").write_text(json.dumps({"<pad>": 0, "the": 1}))
    (folder / "labels.json").write_text(json.dumps({"sentiment": ["0", "1"]}))
    return folder


def _extras(verdict: str = "pass", value: float = 0.9) -> dict:
    return {
        "metrics": {"overall": {"mean_primary": value},
                    "per_task": {"sentiment": {"metric": "accuracy", "value": value}}},
        "gate": {"verdict": verdict, "rows": []},
        "lineage": {"git_commit": "abc123", "data": {"train": "f00d"}, "params": {"seed": 0}},
    }


@pytest.fixture
def extras():
    """extras(verdict="pass", value=0.9) -> the metrics/gate/lineage records a caller publishes."""
    return _extras


@pytest.fixture
def model_dirs(tmp_path: Path):
    """model_dirs() -> a fresh model folder each call (different weights)."""
    seeds = count()

    def make() -> Path:
        seed = next(seeds)
        return make_model_dir(tmp_path / f"model{seed}", seed)

    return make


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    ticks = count()
    # A deterministic clock: every call is one second later.
    return Registry(LocalStore(tmp_path / "registry"), clock=lambda: f"2025-01-01T00:00:{next(ticks):02d}+00:00")
