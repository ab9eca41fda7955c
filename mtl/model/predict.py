"""Prediction: the shared encoder runs once per batch, then every asked task's head decodes (model.sharing
soft has no shared encoder: each asked task's own encoder runs once per batch; adversarial adds each asked
task's private encoder to the one shared pass)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


class Predictor:
    """A saved model behind one call, for use from Python: mtl.load(folder).predict(sentences).

    Needs only the model folder: no params.yaml, no training configuration, no hub. Sentences are raw
    text (split by the same "wordpunct" tokenizer as `mtl predict`) or lists of tokens, mixed freely.
    """

    def __init__(self, model: MultiTaskModel, tokenizer: str = "wordpunct") -> None:
        from mtl.corpora.tokenize import get_tokenizer

        self.model = model.eval()
        self.tokenize = get_tokenizer(tokenizer)  # text -> tokens, for sentences given as strings

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        from mtl.model.io import load_model

        return cls(load_model(folder))

    @property
    def tasks(self) -> list[str]:
        return list(self.model.config.tasks)

    def predict(self, sentences: list[str] | list[list[str]], tasks: list[str] | None = None,
                batch_size: int = 128) -> list[dict[str, Any]]:
        """One {task: prediction} per sentence: a tag per token (tagging), a label (classification)."""
        if isinstance(sentences, str):
            raise TypeError("predict takes a list of sentences; wrap a single one in a list")
        tokens = [self.tokenize(s) if isinstance(s, str) else list(s) for s in sentences]
        by_task = predict(self.model, tokens, tasks, batch_size)
        return [{task: values[i] for task, values in by_task.items()} for i in range(len(tokens))]
