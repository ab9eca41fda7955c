"""What changed since the last decided candidate: the question a scheduled retrain asks before it trains.

Two sources, both cheap (about a second together):
- DVC (`dvc status`): the stages of dvc.yaml whose data, code or params changed since dvc.lock was
  written. The gate is `always_changed` (production lives outside DVC's view), so that reason alone
  does not count; a change to the gate's params or deps does.
- The decision record (<reports>/decision.json), written by the retrain flow once it has acted on a
  gate verdict: which evaluated candidate (its dvc.lock entry) was decided against which production
  version. Without it a run that failed between evaluate and promote, or a production alias moved by
  hand since (a rollback), would be skipped forever; with it only the gate runs again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from mtl.config import Params
from mtl.pipeline import dvc_status
from mtl.registry import PRODUCTION, open_registry


@dataclass(frozen=True)
class Changes:
    stages: dict[str, list]  # stage -> DVC's reasons, for every stage `dvc repro` would run for a reason
    undecided: str | None  # why the last evaluated candidate needs a gate decision; None: it has one
    production: str | None  # the production version now

    @property
    def nothing(self) -> bool:
        return not self.stages and self.undecided is None

    def describe(self) -> str:
        if self.nothing:
            return "nothing changed in data, code or params since the last decided candidate"
        parts = [f"{stage}: {_reasons(reasons)}" for stage, reasons in self.stages.items()]
        return "; ".join(parts + ([self.undecided] if self.undecided else []))


def what_changed(params: Params) -> Changes:
    stages = {
        stage: reasons
        for stage, reasons in dvc_status(params.root).items()
        if not stage.endswith(".dvc") and any(reason != "always changed" for reason in reasons)
    }
    production = production_version(params)
    return Changes(stages, None if stages else _undecided(params, production), production)


def record_decision(params: Params, outcome: str) -> None:
    """After the flow acted on a gate verdict (promoted, unchanged, refused): remember for which candidate
    and against which production version, so an unchanged workspace is skipped next time."""
    record = {
        "candidate": _candidate(params.root),
        "production": production_version(params),
        "outcome": outcome,
        "decided": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = _record_file(params)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def production_version(params: Params) -> str | None:
    registry = open_registry(params)
    return registry.resolve(PRODUCTION) if PRODUCTION in registry.aliases() else None


def _undecided(params: Params, production: str | None) -> str | None:
    path = _record_file(params)
    last = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if last is None or last["candidate"] != _candidate(params.root):
        return "the evaluated candidate has no gate decision yet"
    if last["production"] != production:
        return f"production moved from {last['production']} to {production} since the last decision"
    return None


def _candidate(root: Path) -> str | None:
    """A fingerprint of the evaluated candidate: the evaluate stage's dvc.lock entry (model, data, params)."""
    lock_file = root / "dvc.lock"
    lock = (yaml.safe_load(lock_file.read_text()) or {}) if lock_file.is_file() else {}
    entry = lock.get("stages", {}).get("evaluate")
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:16] if entry else None


def _record_file(params: Params) -> Path:
    return params.reports_dir / "decision.json"


def _reasons(reasons: list) -> str:
    """DVC's reasons in a line: "data/raw/trec modified, params.yaml (training.max_steps)"."""
    out = []
    for reason in reasons:
        if isinstance(reason, str):  # "always changed": the gate's, and never the reason a run happens
            continue
        for changed in reason.values():
            for path, state in changed.items():
                out.append(f"{path} ({', '.join(state)})" if isinstance(state, dict) else f"{path} {state}")
    return ", ".join(out)
