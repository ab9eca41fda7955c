"""The evaluate stage: the candidate scored per task on dev and test, with bootstrap intervals.

Writes the metrics report (paths.metrics; a DVC metric: {"dev": evaluation, "test": evaluation, "training":
how the candidate's training ran and stopped}) and the confusion tables of the classification tasks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtl import evaluation
from mtl.config import Params
from mtl.model import MultiTaskModel, load_model, predict
from mtl.training.data import TaskData, read_labels, read_split
from mtl.training.device import resolve_device


def evaluate_model(model: MultiTaskModel, params: Params, split: str) -> dict:
    """The evaluation dict of `model` on one split of the unified dataset, for the tasks it has."""
    data = split_data(model, params, split)
    return evaluate_predictions(params, data, predict_split(model, data))


def split_data(model: MultiTaskModel, params: Params, split: str) -> dict[str, TaskData]:
    """The split's data of the configured tasks `model` has."""
    tasks = {name: params.tasks[name] for name in model.config.tasks if name in params.tasks}
    return read_split(params.unified_dir, split, tasks, read_labels(params.unified_dir / params.paths.labels))


def predict_split(model: MultiTaskModel, data: dict[str, TaskData], batch_size: int = 128) -> dict[str, list]:
    return {name: predict(model, task.inputs, [name], batch_size)[name] for name, task in data.items()}


def evaluate_predictions(params: Params, data: dict[str, TaskData], pred: dict[str, list]) -> dict:
    return evaluation.evaluate(
        gold={name: task.gold for name, task in data.items()},
        pred=pred,
        tasks={name: task.options for name, task in data.items()},
        labels={name: task.labels for name, task in data.items()},
        n_bootstrap=params.evaluation.n_bootstrap,
        confidence=params.evaluation.confidence,
        seed=params.evaluation.seed,
    )


def evaluate_candidate(params: Params) -> dict:
    """Score the candidate on dev and test: the metrics report and the confusion tables."""
    model = load_model(params.run_file("model"), resolve_device(params.training.device))
    metrics: dict[str, Any] = {split: evaluate_model(model, params, split) for split in ("dev", "test")}
    training = params.run_file("training")
    metrics["training"] = json.loads(training.read_text(encoding="utf-8")) if training.is_file() else None
    write_json(params.report("metrics"), metrics)
    tables = [
        f"## {task} ({split})\n\n{evaluation.confusion_markdown(row['confusion'])}\n"
        for split in ("dev", "test")
        for task, row in metrics[split]["per_task"].items()
        if "confusion" in row
    ]
    params.report("confusion").write_text("# Confusion tables (rows: gold, columns: predicted)\n\n" + "\n".join(tables),
                                          encoding="utf-8")
    return metrics


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
