"""`mtl export --quantize int8`: an int8 copy of a model that has to earn its place.

The fp32 model (a folder, or a registry alias or version) is quantized (mtl/quantize.py) and both
predict the test split of the unified dataset. Per task: both scores with bootstrap intervals, and
int8 minus fp32 from a paired bootstrap on the same examples (mtl/transfer.py's compare_task; the
evaluation section's resamples, confidence and seed). The export is refused, and nothing is written,
when any task's difference is below minus its gate's max_drop, unless forced with a reason; the
comparison (and an override) is kept in the folder's config.json. `mtl evaluate --model FOLDER` on an
int8 folder re-runs the comparison against the fp32 model it came from, on today's test data.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtl.config import Params
from mtl.errors import MtlError
from mtl.model import MultiTaskModel, load_model, predict
from mtl.model.io import replace_folder
from mtl.quantize import is_int8, load_int8, quantize, read_config, save_int8
from mtl.registry import open_registry
from mtl.stages.evaluate import evaluate_model
from mtl.training.data import read_labels, read_split
from mtl.transfer import compare_task, task_metric


class ExportRefused(MtlError):
    """A task dropped beyond its gate's max_drop; the message names the tasks."""


@dataclass
class Export:
    folder: Path
    comparison: dict[str, dict[str, Any]]  # task -> {"metric", "n", "int8", "fp32", "difference", "max_drop", "ok"}
    forced: bool


def export_int8(params: Params, model: str, out: Path | None = None, *, force: bool = False,
                reason: str | None = None) -> Export:
    """Quantize `model` (a folder, or a registry alias or version) into `out` (default
    exports/<version or folder>-int8 beside params.yaml), refusing a drop beyond a gate's max_drop."""
    if force and not (reason or "").strip():
        raise ExportRefused("--force needs --reason: an int8 model that lost accuracy must say why it ships")
    with tempfile.TemporaryDirectory(prefix="mtl-export-") as scratch:
        folder, source = _fetch(params, model, Path(scratch))
        fp32 = load_model(folder)
    int8 = quantize(fp32)
    comparison = compare(params, fp32, int8)
    dropped = {task: row for task, row in comparison.items() if not row["ok"]}
    if dropped and not force:
        raise ExportRefused(
            "int8 loses too much: " + "; ".join(
                f"{task} {row['metric']} {row['difference']['value']:+.4f} (max_drop {row['max_drop']})"
                for task, row in dropped.items()
            ) + ' (to export anyway: --force --reason "...")'
        )
    out = Path(out) if out is not None else params.root / "exports" / f"{source['name']}-int8"
    staged = out.with_name(out.name + ".partial")
    source = {**source, "comparison": comparison,
              **({"override": {"reason": reason, "dropped": sorted(dropped)}} if dropped else {})}
    save_int8(fp32, int8, staged, source)
    replace_folder(staged, out)
    return Export(out, comparison, forced=bool(dropped))


def evaluate_int8(params: Params, folder: Path) -> dict[str, dict[str, Any]]:
    """An int8 folder against the fp32 model it was exported from, per task on today's test split."""
    source = read_config(folder)["quantization"]["source"]
    with tempfile.TemporaryDirectory(prefix="mtl-export-") as scratch:
        fp32_folder, _ = _fetch(params, source["ref"], Path(scratch))
        fp32 = load_model(fp32_folder)
    return compare(params, fp32, load_int8(folder))


def evaluate_any(params: Params, model: str) -> tuple[str, dict]:
    """("int8", the comparison with its fp32 model) for an int8 folder, else ("fp32", its test evaluation)."""
    with tempfile.TemporaryDirectory(prefix="mtl-export-") as scratch:
        folder, _ = _fetch(params, model, Path(scratch))
        if is_int8(folder):
            return "int8", evaluate_int8(params, folder)
        fp32 = load_model(folder)
    return "fp32", evaluate_model(fp32, params, "test")


def compare(params: Params, fp32: MultiTaskModel, int8: MultiTaskModel, split: str = "test") -> dict[str, dict]:
    """Per task of the fp32 model: int8 and fp32 scores, int8 - fp32 with its paired interval, and whether
    the difference stays within the gate's max_drop."""
    tasks = {name: params.tasks[name] for name in fp32.config.tasks if name in params.tasks}
    data = read_split(params.unified_dir, split, tasks, read_labels(params.unified_dir / params.paths.labels))
    config, batch = params.evaluation, params.training.eval_batch_size
    rows = {}
    for name, task in data.items():
        row = compare_task(name, task.gold, predict(int8, task.inputs, [name], batch)[name],
                           predict(fp32, task.inputs, [name], batch)[name], tasks[name], task.labels,
                           task_metric(params, name), n_bootstrap=config.n_bootstrap,
                           confidence=config.confidence, seed=config.seed)
        max_drop = params.gate.tasks[name].max_drop  # every task has a gate entry (params check it)
        rows[name] = {"metric": row["metric"], "n": row["n"], "int8": row["multi_task"], "fp32": row["single_task"],
                      "difference": row["difference"], "max_drop": max_drop,
                      "ok": bool(row["difference"]["value"] >= -max_drop)}
    return rows


def to_markdown(comparison: dict[str, dict[str, Any]]) -> str:
    lines = ["| task | metric | n | fp32 | int8 | int8 - fp32 [paired CI] | max_drop | within |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for task, row in comparison.items():
        diff = row["difference"]
        lines.append(f"| {task} | {row['metric']} | {row['n']} | {row['fp32']['value']:.4f} "
                     f"| {row['int8']['value']:.4f} "
                     f"| {diff['value']:+.4f} [{diff['ci'][0]:+.4f}, {diff['ci'][1]:+.4f}] | {row['max_drop']} "
                     f"| {'yes' if row['ok'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def _fetch(params: Params, model: str, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """(the fp32 folder, where it came from): a folder as it is, a registry reference fetched (and
    recorded by version, not alias, so a later comparison finds the same model)."""
    if Path(model).is_dir():
        folder = Path(model).resolve()
        source = {"ref": str(folder), "name": folder.name}
    else:
        registry = open_registry(params)
        version = registry.resolve(model)
        folder = registry.fetch(version, scratch)
        source = {"ref": version, "name": version, "registry": params.registry.uri}
    weights = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    return folder, {**source, "weights_sha256": weights}
