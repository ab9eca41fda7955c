"""The evaluate stage: the candidate scored per task on dev, test and each extra evaluation set, with bootstrap
intervals.

Writes the metrics report (paths.metrics: {"dev": evaluation, "test": evaluation, "extra": {corpus: evaluation},
"training": how the candidate's training ran and stopped}), the headline metrics (paths.headline: each task's
primary metric per split and extra set, all that DVC tracks as metrics) and the confusion tables of the
classification tasks.
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

SPLITS = ("dev", "test")


def evaluate_model(model: MultiTaskModel, params: Params, split: str) -> dict:
    """The evaluation dict of `model` on one split of the unified dataset, for the tasks it has."""
    data = split_data(model, params, split)
    return evaluate_predictions(params, data, predict_split(model, data))


def split_data(model: MultiTaskModel, params: Params, split: str) -> dict[str, TaskData]:
    """The split's data of the configured tasks `model` has."""
    tasks = {name: params.tasks[name] for name in model.config.tasks if name in params.tasks}
    return read_split(params.unified_dir, split, tasks, read_labels(params.unified_dir / params.paths.labels))


def extra_data(model: MultiTaskModel, params: Params, corpus: str) -> dict[str, TaskData]:
    """An extra evaluation set's data ({its task: data}; {} when `model` lacks the task), scored whole."""
    task = params.corpora[corpus].task
    if task not in model.config.tasks:
        return {}
    labels = read_labels(params.unified_dir / params.paths.labels)
    return read_split(params.unified_dir / params.paths.extra, corpus, {task: params.tasks[task]}, labels)


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
    """Score the candidate on dev, test and the extra sets: the metrics report, its headline and the
    confusion tables."""
    model = load_model(params.run_file("model"), resolve_device(params.training.device))
    metrics: dict[str, Any] = {split: evaluate_model(model, params, split) for split in SPLITS}
    metrics["extra"] = {}
    for corpus in params.evaluation.extra:
        data = extra_data(model, params, corpus)
        if data:
            metrics["extra"][corpus] = evaluate_predictions(params, data, predict_split(model, data))
    training = params.run_file("training")
    metrics["training"] = json.loads(training.read_text(encoding="utf-8")) if training.is_file() else None
    write_json(params.report("metrics"), metrics)
    write_json(params.report("headline"), headline(metrics))
    params.report("confusion").write_text(confusion_tables(metrics), encoding="utf-8")
    return metrics


def scored_sets(metrics: dict) -> dict[str, dict]:
    """Every evaluation of a metrics report by the name it is shown under: dev, test, and each extra set."""
    return {**{split: metrics[split] for split in SPLITS if split in metrics}, **metrics.get("extra", {})}


def headline(metrics: dict) -> dict[str, dict[str, dict[str, float]]]:
    """{task: {primary metric: {dev: value, test: value, <extra set>: value}}}: one number per task and set."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, scored in scored_sets(metrics).items():
        for task, row in scored["per_task"].items():
            out.setdefault(task, {}).setdefault(row["metric"], {})[name] = row["value"]
    return out


def confusion_tables(metrics: dict) -> str:
    tables = [
        f"## {task} ({name})\n\n{evaluation.confusion_markdown(row['confusion'])}\n"
        for name, scored in scored_sets(metrics).items()
        for task, row in scored["per_task"].items()
        if "confusion" in row
    ]
    return "# Confusion tables (rows: gold, columns: predicted)\n\n" + "\n".join(tables)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
