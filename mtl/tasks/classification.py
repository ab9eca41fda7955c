"""Classification: one label per example. Two kinds from one class: `classification` reads one text (sentiment,
question type), `pair_classification` two (entailment: does text A entail text B?). A pair's texts are
encoded by the shared encoder like any sentence and compared by the head (TextsScorer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import create_model

from mtl.tasks import labels as label_kind
from mtl.tasks.kind import Check, TaskOptions, require_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn


class Classification:
    lower_is_better = frozenset()

    def __init__(self, name: str, texts: list[str]) -> None:
        self.name, self._texts = name, texts
        self.Options = create_model(f"{name.title().replace('_', '')}Options", __base__=TaskOptions,
                                    kind=(Literal[name], name))  # no knobs beyond kind and labels

    # --- records --------------------------------------------------------------------------------------

    def fields(self, options: TaskOptions) -> dict[str, pa.DataType]:
        return {**{text: pa.list_(pa.string()) for text in self._texts}, "label": pa.string()}

    def parse(self, fields: dict[str, Any], options: TaskOptions) -> dict[str, Any]:
        texts = {text: require_text(fields, text, self.name) for text in self._texts}
        return {**texts, "label": label_kind.parse_label(fields, self.name)}

    def text_fields(self, options: TaskOptions) -> list[str]:
        return list(self._texts)

    def labels_of(self, fields: dict[str, Any]) -> list[str]:
        return [fields["label"]]

    # --- validation: the label is a scalar already: present and in the label set ----------------------

    def derived_columns(self, frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
        return label_kind.label_frame(frame)

    def checks(self, labels: list[str], options: TaskOptions) -> list[Check]:
        return label_kind.label_checks(labels)

    # --- model: attention pooling with the head's own query, then a linear layer (a pair: compared first) --

    def build_head(self, hidden_size: int, n_labels: int, options: dict) -> nn.Module:
        from mtl.tasks.layers import TextClassifier, TextsScorer

        if len(self._texts) == 1:
            return TextClassifier(hidden_size, n_labels)
        return TextsScorer(hidden_size, n_labels, n_texts=len(self._texts))

    def target(self, fields: dict[str, Any]) -> str:
        return fields["label"]

    def target_ids(self, fields: dict[str, Any], label_ids: dict[str, int]) -> int:
        return label_ids[fields["label"]]

    def collate_targets(self, targets: list[int], length: int) -> torch.Tensor:
        return label_kind.collate_labels(targets)

    def loss(self, head_output, batch) -> torch.Tensor:
        return label_kind.cross_entropy(head_output, batch.targets)

    def decode(self, head_output, batch) -> list[str]:
        return label_kind.decode_labels(head_output, batch.labels)

    # --- metrics --------------------------------------------------------------------------------------

    def metric_names(self, options: TaskOptions) -> list[str]:
        return list(label_kind.METRICS)

    def default_metric(self, options: TaskOptions) -> str:
        return "accuracy"

    def example_stats(self, gold: list, pred: list, labels: list[str], options: TaskOptions) -> np.ndarray:
        return label_kind.example_stats(gold, pred, labels)

    def metrics_from_stats(self, totals: np.ndarray, labels: list[str], options: TaskOptions) -> dict[str, float]:
        return label_kind.metrics_from_stats(totals, labels)

    def confusion(self, gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]] | None:
        return label_kind.confusion(gold, pred, labels)

    def per_class(self, gold: list, pred: list, labels: list[str], options: TaskOptions
                  ) -> dict[str, dict[str, float]]:
        return label_kind.per_class(gold, pred, labels)

    def outcomes(self, fields: dict[str, Any], options: TaskOptions) -> list[str]:
        return [fields["label"]]
