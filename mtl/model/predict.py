"""Prediction: the shared encoder runs once per batch, then every asked task's head decodes (model.sharing
soft has no shared encoder: each asked task's own encoder runs once per batch; adversarial adds each asked
task's private encoder to the one shared pass).

An input is one text (a token list) or several (a tuple of token lists: a pair). A task answers the inputs
with as many texts as it reads (a tagger single texts, an entailment task pairs) and gives None for the
others; inputs of one shape share each encoder pass among all the tasks that read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mtl.corpora.tokenize import TokenizerName, get_tokenizer
from mtl.model.batch import Example, collate
from mtl.model.io import load_model, read_tokenizer
from mtl.model.model import MultiTaskModel

Input = Sequence[str] | tuple[Sequence[str], ...]  # one text's tokens, or a tuple of texts' tokens


def texts_of(item: Input) -> list[list[str]]:
    """An input as its list of texts: a token list is one text; a tuple (or list) of token lists, several."""
    if isinstance(item, tuple) or (isinstance(item, list) and item and not isinstance(item[0], str)):
        return [list(text) for text in item]
    return [list(item)]


def predict(
    model: MultiTaskModel,
    inputs: list[Input],
    tasks: list[str] | None = None,
    batch_size: int = 128,
) -> dict[str, list]:
    """{task: one prediction per input}: a tag list (tagging), a label (classification), a score (regression);
    None where the input has another number of texts than the task reads."""
    tasks = list(model.config.tasks) if tasks is None else list(tasks)
    unknown = [t for t in tasks if t not in model.config.tasks]
    if unknown:
        raise ValueError(f"the model has no task {unknown}; it has {sorted(model.config.tasks)}")
    examples = [texts_of(item) for item in inputs]
    empty = [i for i, texts in enumerate(examples) if not all(texts)]
    if empty:
        raise ValueError(f"inputs {empty[:5]} have an empty text; every text needs a token")
    blank = [i for i, texts in enumerate(examples)
             if any(not isinstance(token, str) or not token.strip() for text in texts for token in text)]
    if blank:
        raise ValueError(f"inputs {blank[:5]} hold a token that is not text or is empty or blank (\"\", \" \", None): "
                         "every token needs a character")
    results: dict[str, list] = {task: [None] * len(examples) for task in tasks}
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for n_texts in sorted({len(texts) for texts in examples}):
                readers = [task for task in tasks if model.config.tasks[task].n_texts == n_texts]
                shaped = [i for i, texts in enumerate(examples) if len(texts) == n_texts]
                if not readers:
                    continue
                # Sorted by length, batches hold inputs of similar length and little padding.
                order = sorted(shaped, key=lambda i: sum(map(len, examples[i])))
                for start in range(0, len(order), batch_size):
                    index = order[start : start + batch_size]
                    batch = collate([Example(model.vocab.encode_texts(examples[i])) for i in index], index=index)
                    batch = batch.to(device)
                    for task, output in model(batch, readers).items():
                        spec = model.config.tasks[task]
                        batch.task, batch.labels, batch.task_options = task, spec.labels, spec.options
                        for i, prediction in zip(index, spec.task_kind.decode(output, batch)):
                            results[task][i] = prediction
    finally:
        model.train(was_training)
    return results


class Predictor:
    """A saved model behind one call, for use from Python: mtl.load(folder).predict(sentences).

    Needs only the model folder: no params.yaml, no training configuration, no hub. Sentences are raw
    text or lists of tokens, mixed freely; raw text is split by the tokenizer recorded in the folder
    (mtl/corpora/tokenize.py), the one that matches how the model's training corpora were tokenized.
    An int8 folder (`mtl export --quantize int8`) loads through mtl.load or mtl.quantize.load_predictor.
    """

    def __init__(self, model: MultiTaskModel, tokenizer: TokenizerName | None = None,
                 precision: str = "fp32") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer or model.config.tokenizer
        self.precision = precision  # "fp32", or "int8" for a dynamically quantized model
        self.tokenize = get_tokenizer(self.tokenizer)  # text -> tokens, for sentences given as strings

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        """The fp32 model in folder. mtl.load(folder) takes int8 folders too (mtl/quantize.py)."""
        return cls(load_model(folder), read_tokenizer(folder))

    @property
    def tasks(self) -> list[str]:
        return list(self.model.config.tasks)

    def tokens_of(self, sentences: list) -> list[Input]:
        """Each input as tokens: raw text through the model's tokenizer, token lists as given; a pair (a tuple
        of two texts) text by text."""
        if isinstance(sentences, str):
            raise TypeError("predict takes a list of sentences; wrap a single one in a list")
        one = lambda text: self.tokenize(text) if isinstance(text, str) else list(text)  # noqa: E731
        return [tuple(one(text) for text in item) if isinstance(item, tuple) else one(item) for item in sentences]

    def predict(self, sentences: list, tasks: list[str] | None = None, batch_size: int = 128) -> list[dict[str, Any]]:
        """One {task: prediction} per input, from the tasks that read its number of texts: a tag per token
        (tagging), a label (classification), a score (regression)."""
        tokens = self.tokens_of(sentences)
        by_task = predict(self.model, tokens, tasks, batch_size)
        return [{task: values[i] for task, values in by_task.items() if values[i] is not None}
                for i in range(len(tokens))]
