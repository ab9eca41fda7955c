"""What every kind with one label per example shares (classification, pair classification): the label field,
its expectations, its target and loss, and its metrics from per-example sufficient statistics.

Statistics columns, with k = len(labels) + 1: tp per class (k) | fp per class (k) | fn per class (k) | correct |
examples. The extra last class pools labels outside `labels` (a dev/test label never seen in train): such
examples count as errors and pull macro-F1 down instead of crashing. numpy, pandas, torch and GX are imported
inside the functions so importing a kind stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtl.tasks.kind import Check, FieldError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch

METRICS = ["accuracy", "macro_f1"]


def parse_label(fields: dict[str, Any], kind: str) -> str:
    label = fields.get("label")
    if label is None or not str(label).strip():
        raise FieldError("missing_label", f"no label: a {kind} task needs one")
    return str(label).strip()


def label_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["label"]]


def label_checks(labels: list[str]) -> list[Check]:
    import great_expectations as gx

    return [
        Check(gx.expectations.ExpectColumnValuesToNotBeNull(column="label"), "missing_label", "no label"),
        Check(gx.expectations.ExpectColumnValuesToBeInSet(column="label", value_set=list(labels)),
              "unknown_label", "label outside the label set: {value}"),
    ]


def collate_labels(targets: list[int]) -> torch.Tensor:
    import torch

    return torch.tensor(targets, dtype=torch.long)  # (B,)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.cross_entropy(logits.float(), targets)  # logits (B, L), targets (B,)


def decode_labels(logits: torch.Tensor, labels: list[str]) -> list[str]:
    return [labels[i] for i in logits.argmax(dim=-1).tolist()]


def example_stats(gold: list, pred: list, labels: list[str]) -> np.ndarray:
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


def metrics_from_stats(totals: np.ndarray, labels: list[str]) -> dict[str, float]:
    k = len(labels) + 1
    tp, fp, fn = totals[:k], totals[k : 2 * k], totals[2 * k : 3 * k]
    # Macro-F1 averages over the classes present in gold or predictions (as scikit-learn does without an
    # explicit label list), so a class a resample happens to miss is not scored 0.
    support = 2 * tp + fp + fn
    present = support > 0
    macro_f1 = float((2 * tp[present] / support[present]).mean()) if present.any() else 0.0
    examples = totals[3 * k + 1]
    accuracy = float(totals[3 * k] / examples) if examples else 0.0
    return {"accuracy": accuracy, "macro_f1": macro_f1}


def confusion(gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]]:
    """{gold: {pred: count}} over `labels` plus any label seen outside them (appended, sorted)."""
    seen = sorted({*gold, *pred} - set(labels))
    names = [*labels, *seen]
    table = {g: {p: 0 for p in names} for g in names}
    for g, p in zip(gold, pred):
        table[g][p] += 1
    return table


def per_class(gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, float]]:
    """{label: precision, recall, F1, support (gold examples)} for every label in gold or predictions."""
    table = confusion(gold, pred, labels)
    out = {}
    for label in table:
        tp = table[label][label]
        n_gold, n_pred = sum(table[label].values()), sum(row[label] for row in table.values())
        if n_gold or n_pred:
            out[label] = {"precision": tp / n_pred if n_pred else 0.0, "recall": tp / n_gold if n_gold else 0.0,
                          "f1": 2 * tp / (n_gold + n_pred), "support": n_gold}
    return out
