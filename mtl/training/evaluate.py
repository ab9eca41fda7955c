"""Dev evaluation for early stopping: the kinds' metrics on each task's dev set, and one score."""

from __future__ import annotations

from mtl.config import TaskConfig
from mtl.model.model import MultiTaskModel
from mtl.model.predict import predict
from mtl.tasks import get_kind
from mtl.training.data import TaskData


def evaluate(
    model: MultiTaskModel, dev: dict[str, TaskData], tasks: dict[str, TaskConfig], batch_size: int
) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} on each task's dev set."""
    metrics = {}
    for name, data in dev.items():
        kind = get_kind(data.kind)
        predicted = predict(model, data.sentences, [name], batch_size)[name]
        stats = kind.example_stats(data.gold, predicted, data.labels, tasks[name])
        metrics[name] = kind.metrics_from_stats(stats.sum(axis=0), data.labels, tasks[name])
    return metrics


def dev_score(metrics: dict[str, dict[str, float]], tasks: dict[str, TaskConfig]) -> float:
    """The mean over tasks of each task's primary metric (the kind's default metric)."""
    primary = [metrics[name][get_kind(tasks[name].kind).default_metric(tasks[name])] for name in metrics]
    return sum(primary) / len(primary)
