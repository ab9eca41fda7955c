"""The promote stage: publish the gated candidate as a registry version and move the production alias to it.

Only after a passing gate, or as an audited override (`--force` with a reason); a candidate whose weights
production already holds changes nothing. The version carries the metrics, the gate's decision, the lineage
(mtl/lineage.py) with the dataset's train statistics (paths.data_stats: what the next candidate's drift is
measured against) and a model card (README.md, mtl/registry/card.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from mtl.config import Params
from mtl.errors import MtlError
from mtl.lineage import lineage
from mtl.registry import PRODUCTION, Registry, open_registry
from mtl.registry.card import model_card


class PromotionRefused(MtlError):
    pass


@dataclass(frozen=True)
class Promotion:
    version: str
    changed: bool  # False when production already holds these exact weights
    replaced: str | None
    forced: bool = False  # the gate refused the candidate and a person overrode it (alias action "force")


def promote_candidate(params: Params, reason: str, *, force: bool = False) -> Promotion:
    """Publish the gated candidate as a new registry version and move `production` to it.

    force: promote even though the gate refused, as an audited override: `reason` is mandatory, the
    alias move is recorded with action "force", moved_by (the registry's actor) and the reason, and
    the stored gate record keeps the refused verdict plus the override. When the gate passed, force
    changes nothing (an ordinary promotion is recorded)."""
    if force and not (reason or "").strip():
        raise PromotionRefused("--force needs a reason: an override of the gate must say why")
    gate_file = params.report("gate")
    if not gate_file.is_file():
        raise PromotionRefused(f"{gate_file} is missing: run `mtl gate` first (even --force needs its report)")
    gate = json.loads(gate_file.read_text(encoding="utf-8"))
    overridden = gate["verdict"] != "pass"
    if overridden and not force:
        failed = "; ".join(f"{row['task']}: {row['reason']}" for row in gate["rows"] if row["verdict"] != "pass")
        raise PromotionRefused(
            f"the gate refused the candidate ({failed}); production is unchanged "
            '(an audited override: `mtl promote --force --reason "..."`)'
        )
    registry = open_registry(params)
    model_dir = params.run_file("model")
    current = registry.resolve(PRODUCTION) if PRODUCTION in registry.aliases() else None
    if current is not None and _weights_sha256(model_dir) == _production_weights_sha256(registry, current):
        return Promotion(current, changed=False, replaced=None)
    extras = {
        "metrics": json.loads(params.report("metrics").read_text(encoding="utf-8")),
        "gate": gate,
        "lineage": {**lineage(params), "data_stats": _data_stats(params)},
    }
    if overridden:
        extras["gate"] = {**gate, "override": {"action": "force", "reason": reason, "by": registry.actor()}}
    move = {"alias": PRODUCTION, "moved_at": registry.clock(), "moved_by": registry.actor(), "reason": reason,
            "action": "force" if overridden else "promote", "previous": current}

    def card(version: str) -> str:
        return model_card(version, extras, created=move["moved_at"], aliases=[PRODUCTION], moves=[move])

    if not overridden:
        version = registry.promote(model_dir, extras, reason, card=card)
        return Promotion(version, changed=True, replaced=current)
    version = registry.publish(model_dir, extras, card=card)
    registry.set_alias(PRODUCTION, version, reason, action="force")
    return Promotion(version, changed=True, replaced=current, forced=True)


def _weights_sha256(model_dir: Path) -> str:
    return hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()


def _production_weights_sha256(registry: Registry, version: str) -> str | None:
    manifest = registry.show(version)["manifest"] or {"files": []}
    return next((f["sha256"] for f in manifest["files"] if f["path"] == "model.safetensors"), None)


def _data_stats(params: Params) -> dict | None:
    path = params.unified_dir / params.paths.data_stats
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
