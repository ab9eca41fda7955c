"""What the report reads: the candidate's training logs, the stage reports, the dataset's leakage report and the
registry's versions and production moves. A file that is absent (no transfer report, no production model yet)
is None, and the page says so instead of failing."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from mtl.config import Params
from mtl.registry import PRODUCTION, RegistryError, open_registry

log = logging.getLogger(__name__)


@dataclass
class Sources:
    metrics: dict | None = None  # the evaluate stage's report: dev, test, extra, training
    gate: dict | None = None
    drift: dict | None = None
    transfer: dict | None = None
    leakage: dict | None = None
    production_metrics: dict | None = None
    train_log: list[dict] = field(default_factory=list)  # step, task, loss (numbers)
    eval_log: list[dict] = field(default_factory=list)  # step, task, metric, value
    task_mix: list[dict] = field(default_factory=list)  # step, window, task, batches, fraction, expected
    versions: list[dict] = field(default_factory=list)  # Registry.list_versions rows
    moves: list[dict] = field(default_factory=list)  # the production alias's history, oldest first
    problems: list[str] = field(default_factory=list)  # what could not be read, shown on the page


def read_sources(params: Params) -> Sources:
    found = Sources()
    for key in ("metrics", "gate", "drift", "transfer", "production_metrics"):
        setattr(found, key, _json(params.report(key)))
    found.leakage = _json(params.unified_dir / params.paths.leakage)
    found.train_log = _csv(params.run_file("train_log"), {"step": int, "loss": float})
    found.eval_log = _csv(params.run_file("eval_log"), {"step": int, "value": float})
    found.task_mix = _csv(params.run_file("task_mix"), {"step": int, "window": int, "batches": int, "fraction": float,
                                                       "expected": float})
    try:
        registry = open_registry(params)
        found.versions = registry.list_versions()
        found.moves = registry.history(PRODUCTION)
    except (RegistryError, OSError) as error:  # the page still shows the candidate
        found.problems.append(f"the registry could not be read: {error}")
        log.warning("report: the registry could not be read: %s", error)
    return found


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _csv(path: Path, types: dict[str, type]) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [{key: types.get(key, str)(value) for key, value in row.items()} for row in csv.DictReader(handle)]
