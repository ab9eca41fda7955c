"""Classification: one label per text (sentiment, question type)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the data stages must not pay for importing torch or GX here
    import numpy as np
    import torch
    from great_expectations.expectations import Expectation
    from pandas import DataFrame
    from torch import nn

    from mtl.config import ValidationConfig
    from mtl.records import Record


class Classification:
    name = "classification"

    # --- validation ----------------------------------------------------------------------------
    # A text's label is already a scalar: it must be present and in the label set.

    def labels_of(self, record: Record) -> list[str]:
        return [] if record.label is None else [record.label]

    def derived_columns(self, frame: DataFrame, labels: list[str]) -> DataFrame:
        return frame[["label"]]

    def expectations(self, labels: list[str], config: ValidationConfig) -> list[tuple[Expectation, str]]:
        """(expectation, quarantine reason); "{value}" in a reason becomes the record's failing value."""
        import great_expectations as gx

        return [
            (gx.expectations.ExpectColumnValuesToNotBeNull(column="label"), "no label"),
            (
                gx.expectations.ExpectColumnValuesToBeInSet(column="label", value_set=list(labels)),
                "label outside the label set: {value}",
            ),
        ]

    # --- model ---------------------------------------------------------------------------------
    # Attention pooling with a learned query per task over the shared states, then a linear layer.
    # The target is one label id per text. torch and the heads are imported inside the methods (see
    # tagging.py for why).

    def build_head(self, hidden_size: int, n_labels: int, options: dict) -> "nn.Module":
        from mtl.model.heads import AttentionPooler

        return AttentionPooler(hidden_size, n_labels)

    def target(self, example) -> str:
        """The gold answer of a unified row (a mapping with "label"), as decode returns it."""
        return example["label"]

    def target_ids(self, example, label_ids: dict[str, int]) -> int:
        return label_ids[example["label"]]

    def collate_targets(self, targets: list[int], length: int) -> "torch.Tensor":
        import torch

        return torch.tensor(targets, dtype=torch.long)  # (B,)

    def loss(self, head_output, batch) -> "torch.Tensor":
        import torch.nn.functional as F

        return F.cross_entropy(head_output, batch.targets)  # logits (B, L), targets (B,)

    def decode(self, head_output, batch) -> list[str]:
        return [batch.labels[i] for i in head_output.argmax(dim=-1).tolist()]

    # --- metrics -------------------------------------------------------------------------------
    # Metrics are computed from per-example sufficient statistics whose column sums determine every
    # metric, so a corpus score and each bootstrap resample are "sum the rows, apply one formula".
    # Columns, with k = len(labels) + 1: tp per class (k) | fp per class (k) | fn per class (k) |
    # correct | examples. The extra last class pools labels outside `labels` (a dev/test label never
    # seen in train): such examples count as errors and pull macro-F1 down instead of crashing.
    # numpy is imported inside the methods so importing the kind registry stays cheap.

    def default_metric(self, task_cfg) -> str:
        return "accuracy"

    def metric_names(self, task_cfg) -> list[str]:
        return ["accuracy", "macro_f1"]

    def example_stats(self, gold: list, pred: list, labels: list[str], task_cfg) -> "np.ndarray":
        """(n_examples, 3 * (len(labels) + 1) + 2) float64; gold and pred are lists of label strings."""
        import numpy as np

        if len(gold) != len(pred):
            raise ValueError(f"{len(gold)} gold labels but {len(pred)} predicted")
        k = len(labels) + 1
        index = {label: i for i, label in enumerate(labels)}
        gold_ix = np.array([index.get(y, k - 1) for y in gold], dtype=np.int64)
        pred_ix = np.array([index.get(y, k - 1) for y in pred], dtype=np.int64)
        hit = np.array([g == p for g, p in zip(gold, pred)], dtype=bool)
        rows = np.zeros((len(gold), 3 * k + 2), dtype=np.float64)
        every = np.arange(len(gold))
        rows[every[hit], gold_ix[hit]] = 1  # tp of the gold class
        rows[every[~hit], k + pred_ix[~hit]] = 1  # fp of the predicted class
        rows[every[~hit], 2 * k + gold_ix[~hit]] = 1  # fn of the gold class
        rows[:, 3 * k] = hit
        rows[:, 3 * k + 1] = 1
        return rows

    def metrics_from_stats(self, totals: "np.ndarray", labels: list[str], task_cfg) -> dict[str, float]:
        k = len(labels) + 1
        tp, fp, fn = totals[:k], totals[k : 2 * k], totals[2 * k : 3 * k]
        # Macro-F1 averages over the classes present in gold or predictions (as scikit-learn does
        # without an explicit label list), so a class a resample happens to miss is not scored 0.
        support = 2 * tp + fp + fn
        present = support > 0
        macro_f1 = float((2 * tp[present] / support[present]).mean()) if present.any() else 0.0
        examples = totals[3 * k + 1]
        accuracy = float(totals[3 * k] / examples) if examples else 0.0
        return {"accuracy": accuracy, "macro_f1": macro_f1}

    def confusion(self, gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]] | None:
        """{gold: {pred: count}} over `labels` plus any label seen outside them (appended, sorted)."""
        seen = sorted({*gold, *pred} - set(labels))
        names = [*labels, *seen]
        table = {g: {p: 0 for p in names} for g in names}
        for g, p in zip(gold, pred):
            table[g][p] += 1
        return table
