"""The model stages behind `mtl evaluate`, `mtl gate` and `mtl promote`.

Each reads what the stage before it wrote, calls the pure modules (evaluation, gate, registry) and
writes JSON and Markdown beside them. The candidate is <run>/model; the production model is whatever
the registry's `production` alias points at.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mtl import evaluation
from mtl.config import Params
from mtl.gate import decide
from mtl.model import MultiTaskModel, load_model, predict
from mtl.registry import Registry, open_store
from mtl.training.data import read_labels, read_split

PRODUCTION = "production"


class PromotionRefused(Exception):
    pass


def open_registry(params: Params) -> Registry:
    config = params.registry
    return Registry(open_store(config.uri, params.root, endpoint_url=config.endpoint_url, region=config.region))


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- evaluate -----------------------------------------------------------------------------------


def evaluate_model(model: MultiTaskModel, params: Params, split: str) -> dict:
    """The evaluation dict of `model` on one split of the unified dataset, for the tasks it has."""
    return _evaluate(params, *_predict_split(model, params, split))


def _predict_split(model: MultiTaskModel, params: Params, split: str) -> tuple[dict, dict, dict[str, list]]:
    """(task configs, TaskData per task, predictions per task) for the tasks `model` has."""
    tasks = {name: params.tasks[name] for name in model.config.tasks if name in params.tasks}
    data = read_split(params.unified_dir, split, tasks, read_labels(params.unified_dir))
    return tasks, data, {name: predict(model, task.sentences, [name])[name] for name, task in data.items()}


def _evaluate(params: Params, tasks: dict, data: dict, pred: dict[str, list]) -> dict:
    return evaluation.evaluate(
        gold={name: task.gold for name, task in data.items()},
        pred=pred,
        tasks=tasks,
        labels={name: task.labels for name, task in data.items()},
        n_bootstrap=params.evaluation.n_bootstrap,
        confidence=params.evaluation.confidence,
        seed=params.evaluation.seed,
    )


def evaluate_candidate(params: Params) -> dict:
    """Score the candidate on dev and test: reports/metrics.json (a DVC metric) and confusion.md."""
    model = load_model(params.run_dir / "model")
    metrics = {split: evaluate_model(model, params, split) for split in ("dev", "test")}
    _write_json(params.reports_dir / "metrics.json", metrics)
    tables = [
        f"## {task} ({split})\n\n{evaluation.confusion_markdown(row['confusion'])}\n"
        for split, result in metrics.items()
        for task, row in result["per_task"].items()
        if "confusion" in row
    ]
    (params.reports_dir / "confusion.md").write_text("# Confusion tables (rows: gold, columns: predicted)\n\n" + "\n".join(tables))
    return metrics


# --- gate ---------------------------------------------------------------------------------------


def gate_candidate(params: Params) -> dict:
    """Decide on the candidate's test scores against the floors and the production model.

    The production model is re-scored here on the candidate's exact test data, so the two are never
    compared on different examples (the data may have changed since production was promoted), and the
    candidate is re-predicted on it too, so the gate has both models' per-example statistics for its
    paired test. Writes gate.json, gate.md and production_metrics.json (production's re-scored test
    evaluation in the shape of metrics.json; null when there is no production model)."""
    candidate = json.loads((params.reports_dir / "metrics.json").read_text())["test"]
    registry = open_registry(params)
    production, production_version, paired = None, None, {}
    production_file = params.reports_dir / "production_metrics.json"
    if PRODUCTION in registry.aliases():
        production_version = registry.resolve(PRODUCTION)
        with tempfile.TemporaryDirectory() as folder:
            champion = load_model(registry.fetch(production_version, folder))
        production, paired = _paired_evaluation(load_model(params.run_dir / "model"), champion, params, "test")
    # Written on every run (null without a production model): DVC tracks it as a metric of the gate stage.
    _write_json(production_file, {"production_version": production_version, "test": production})
    report = decide(candidate, production, paired, params.gate)
    gate = {**report.to_dict(), "production_version": production_version}
    _write_json(params.reports_dir / "gate.json", gate)
    heading = f"Candidate vs production {production_version}" if production_version else "Candidate (no production model yet)"
    (params.reports_dir / "gate.md").write_text(f"# Gate: {report.verdict.upper()}\n\n{heading}\n\n{report.to_markdown()}\n")
    return gate


def _paired_evaluation(
    candidate: MultiTaskModel, production: MultiTaskModel, params: Params, split: str
) -> tuple[dict, dict[str, evaluation.PairedStats]]:
    """Production's evaluation dict on `split`, and both models' per-example statistics for every task
    both have, on the same examples in the same order."""
    tasks, data, production_pred = _predict_split(production, params, split)
    shared = [name for name in data if name in candidate.config.tasks]
    paired = {}
    for name in shared:
        candidate_pred = predict(candidate, data[name].sentences, [name])[name]
        paired[name] = evaluation.paired_stats(
            data[name].gold, candidate_pred, production_pred[name], tasks[name], data[name].labels
        )
    return _evaluate(params, tasks, data, production_pred), paired


# --- promote ------------------------------------------------------------------------------------


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
    gate_file = params.reports_dir / "gate.json"
    if not gate_file.is_file():
        raise PromotionRefused(f"{gate_file} is missing: run `mtl gate` first (even --force needs its report)")
    gate = json.loads(gate_file.read_text())
    overridden = gate["verdict"] != "pass"
    if overridden and not force:
        failed = "; ".join(f"{row['task']}: {row['reason']}" for row in gate["rows"] if row["verdict"] != "pass")
        raise PromotionRefused(
            f"the gate refused the candidate ({failed}); production is unchanged "
            '(an audited override: `mtl promote --force --reason "..."`)'
        )
    registry = open_registry(params)
    model_dir = params.run_dir / "model"
    current = registry.resolve(PRODUCTION) if PRODUCTION in registry.aliases() else None
    if current is not None and _weights_sha256(model_dir) == _production_weights_sha256(registry, current):
        return Promotion(current, changed=False, replaced=None)
    extras = {
        "metrics": json.loads((params.reports_dir / "metrics.json").read_text()),
        "gate": gate,
        "lineage": lineage(params),
    }
    if not overridden:
        version = registry.promote(model_dir, extras, reason)
        return Promotion(version, changed=True, replaced=current)
    extras["gate"] = {**gate, "override": {"action": "force", "reason": reason, "by": registry.actor()}}
    version = registry.publish(model_dir, extras)
    registry.set_alias(PRODUCTION, version, reason, action="force")
    return Promotion(version, changed=True, replaced=current, forced=True)


def _weights_sha256(model_dir: Path) -> str:
    return hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()


def _production_weights_sha256(registry: Registry, version: str) -> str | None:
    manifest = registry.show(version)["manifest"] or {"files": []}
    return next((f["sha256"] for f in manifest["files"] if f["path"] == "model.safetensors"), None)


def lineage(params: Params) -> dict:
    """Where the candidate came from: the data and model hashes DVC recorded, the code commit, the params."""
    lock_file = params.root / "dvc.lock"
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
    }


def _git(root: Path, *args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
