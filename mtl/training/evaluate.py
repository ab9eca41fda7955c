"""Dev evaluation for early stopping: the kinds' metrics on each task's dev set, and one score."""

from __future__ import annotations

from mtl.model.model import MultiTaskModel
from mtl.model.predict import predict
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions
from mtl.training.data import TaskData


def evaluate(model: MultiTaskModel, dev: dict[str, TaskData], batch_size: int) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} on each task's dev set."""
    metrics = {}
    for name, data in dev.items():
        kind = kind_of(data.options)
        predicted = predict(model, data.inputs, [name], batch_size)[name]
        stats = kind.example_stats(data.gold, predicted, data.labels, data.options)
        metrics[name] = kind.metrics_from_stats(stats.sum(axis=0), data.labels, data.options)
    return metrics


def primary_metrics(metrics: dict[str, dict[str, float]], tasks: dict[str, TaskOptions]) -> dict[str, float]:
    return {name: values[kind_of(tasks[name]).default_metric(tasks[name])] for name, values in metrics.items()}


def dev_score(metrics: dict[str, dict[str, float]], tasks: dict[str, TaskOptions]) -> float:
    """The mean over tasks of each task's primary metric (negated where lower is better)."""
    signed = []
    for name, value in primary_metrics(metrics, tasks).items():
        kind = kind_of(tasks[name])
        signed.append(-value if kind.default_metric(tasks[name]) in kind.lower_is_better else value)
    return sum(signed) / len(signed)
