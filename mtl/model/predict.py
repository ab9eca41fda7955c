"""Prediction: the shared encoder runs once per batch, then every asked task's head decodes."""

from __future__ import annotations

import torch

from mtl.model.batch import Example, collate
from mtl.model.model import MultiTaskModel
from mtl.tasks import get_kind


def predict(
    model: MultiTaskModel,
    sentences: list[list[str]],
    tasks: list[str] | None = None,
    batch_size: int = 128,
) -> dict[str, list]:
    """{task: one prediction per sentence}: a tag list per sentence (tagging), a label (classification)."""
    tasks = list(model.config.tasks) if tasks is None else list(tasks)
    unknown = [t for t in tasks if t not in model.config.tasks]
    if unknown:
        raise ValueError(f"the model has no task {unknown}; it has {sorted(model.config.tasks)}")
    empty = [i for i, s in enumerate(sentences) if not s]
    if empty:
        raise ValueError(f"sentences {empty[:5]} are empty; every sentence needs a token")
    results: dict[str, list] = {task: [None] * len(sentences) for task in tasks}
    # Sorted by length, batches hold sentences of similar length and little padding.
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                batch = collate([Example(*model.vocab.encode(sentences[i])) for i in index], index=index)
                for task, output in model(batch, tasks).items():
                    spec = model.config.tasks[task]
                    batch.task, batch.labels = task, spec.labels
                    for i, prediction in zip(index, get_kind(spec.kind).decode(output, batch)):
                        results[task][i] = prediction
    finally:
        model.train(was_training)
    return results
