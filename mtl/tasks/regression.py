"""Regression: one real score per example, of one text or of a pair (SICK relatedness: how related are A and B,
1 to 5). The reader's label text is parsed as the score; `range` bounds it (validation quarantines a score
outside it, and the head predicts inside it: lo + (hi - lo) * sigmoid)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import model_validator

from mtl.tasks.kind import Check, FieldError, TaskOptions, require, require_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn

TEXTS = {1: ["tokens"], 2: ["tokens", "tokens_b"]}


class RegressionOptions(TaskOptions):
    kind: Literal["regression"] = "regression"
    texts: Literal[1, 2] = 1  # a score of one text, or of a pair (tokens_b: the corpus's second text)
    range: tuple[float, float] | None = None  # [lo, hi] the score lies in; None: unbounded

    @model_validator(mode="after")
    def _check(self) -> RegressionOptions:
        if self.labels is not None:
            raise ValueError("a regression task has scores, not labels: drop `labels`")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range {list(self.range)} must be [lo, hi] with lo < hi")
        return self


class Regression:
    name: ClassVar[str] = "regression"
    Options: ClassVar[type[TaskOptions]] = RegressionOptions
    lower_is_better: ClassVar[frozenset[str]] = frozenset({"mse"})

    # --- records --------------------------------------------------------------------------------------

    def fields(self, options: TaskOptions) -> dict[str, pa.DataType]:
        return {**{text: pa.list_(pa.string()) for text in TEXTS[options.texts]}, "score": pa.float64()}

    def parse(self, fields: dict[str, Any], options: TaskOptions) -> dict[str, Any]:
        texts = {text: require_text(fields, text, self.name) for text in TEXTS[options.texts]}
        value = require(fields, "label", self.name)
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise FieldError("not_a_number", f"score {value!r} is not a number") from None
        if not math.isfinite(score):
            raise FieldError("not_a_number", f"score {value!r} is not a finite number")
        return {**texts, "score": score}

    def text_fields(self, options: TaskOptions) -> list[str]:
        return list(TEXTS[options.texts])

    def labels_of(self, fields: dict[str, Any]) -> list[str]:
        return []

    # --- validation -----------------------------------------------------------------------------------

    def derived_columns(self, frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
        return frame[["score"]]

    def checks(self, labels: list[str], options: TaskOptions) -> list[Check]:
        if options.range is None:
            return []
        import great_expectations as gx

        lo, hi = options.range
        return [Check(gx.expectations.ExpectColumnValuesToBeBetween(column="score", min_value=lo, max_value=hi),
                      "score_out_of_range", f"score {{value}} outside the range [{lo:g}, {hi:g}]")]

    # --- model: the texts pooled (and compared) -> one number, squashed into the range when there is one --

    def build_head(self, hidden_size: int, n_labels: int, options: dict) -> nn.Module:
        from mtl.tasks.layers import TextsScorer

        return TextsScorer(hidden_size, 1, n_texts=options.get("texts", 1))

    def target(self, fields: dict[str, Any]) -> float:
        return float(fields["score"])

    def target_ids(self, fields: dict[str, Any], label_ids: dict[str, int]) -> float:
        return float(fields["score"])

    def collate_targets(self, targets: list[float], length: int) -> torch.Tensor:
        import torch

        return torch.tensor(targets, dtype=torch.float32)  # (B,)

    def loss(self, head_output, batch) -> torch.Tensor:
        """Mean squared error, on the range's 0-1 scale when there is a range (so a loss weight means the same
        whatever the units), in fp32."""
        predicted = self._scores(head_output, batch)
        scale = _width(batch.task_options)
        return (((predicted - batch.targets) / scale) ** 2).mean()

    def decode(self, head_output, batch) -> list[float]:
        return self._scores(head_output, batch).tolist()

    def _scores(self, head_output, batch) -> torch.Tensor:
        raw = head_output.float().squeeze(-1)  # (B,)
        bounds = batch.task_options.get("range")
        if bounds is None:
            return raw
        lo, hi = bounds
        return lo + (hi - lo) * raw.sigmoid()

    # --- metrics --------------------------------------------------------------------------------------
    # Per-example sufficient statistics, x the prediction and y the gold score: x, y, x², y², xy, the same
    # five of their ranks (rx, ry: average ranks over the whole evaluated set), (x - y)², 1. Column sums give
    # Pearson's r, MSE and Spearman's rho exactly on the set; on a bootstrap resample Spearman keeps the
    # set's ranks instead of re-ranking the resample (a close, standard approximation; Pearson and MSE stay
    # exact).

    def metric_names(self, options: TaskOptions) -> list[str]:
        return ["pearson", "spearman", "mse"]

    def default_metric(self, options: TaskOptions) -> str:
        return "pearson"

    def example_stats(self, gold: list, pred: list, labels: list[str], options: TaskOptions) -> np.ndarray:
        import numpy as np

        if len(gold) != len(pred):
            raise ValueError(f"{len(gold)} gold scores but {len(pred)} predicted")
        y, x = np.asarray(gold, dtype=np.float64), np.asarray(pred, dtype=np.float64)
        rx, ry = average_ranks(x), average_ranks(y)
        return np.stack([x, y, x * x, y * y, x * y, rx, ry, rx * rx, ry * ry, rx * ry, (x - y) ** 2,
                         np.ones_like(x)], axis=1)

    def metrics_from_stats(self, totals: np.ndarray, labels: list[str], options: TaskOptions) -> dict[str, float]:
        n = totals[11]
        if not n:
            return {"pearson": 0.0, "spearman": 0.0, "mse": 0.0}
        return {"pearson": _correlation(totals[0:5], n), "spearman": _correlation(totals[5:10], n),
                "mse": float(totals[10] / n)}

    def confusion(self, gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]] | None:
        return None

    def per_class(self, gold: list, pred: list, labels: list[str], options: TaskOptions
                  ) -> dict[str, dict[str, float]]:
        """Per range of the gold score (score_bin): its examples, their mean gold and predicted score, and the
        MSE: where the head is biased (SICK's unrelated pairs scored too high, say)."""
        groups: dict[str, list[tuple[float, float]]] = {}
        for y, x in zip(gold, pred):
            groups.setdefault(score_bin(float(y), options), []).append((float(y), float(x)))
        return {name: {"support": len(pairs), "mean_gold": sum(y for y, _ in pairs) / len(pairs),
                       "mean_predicted": sum(x for _, x in pairs) / len(pairs),
                       "mse": sum((x - y) ** 2 for y, x in pairs) / len(pairs)}
                for name, pairs in sorted(groups.items(), key=lambda item: _bin_start(item[0]))}

    # --- drift: the distribution of the scores, by range -----------------------------------------------

    def outcomes(self, fields: dict[str, Any], options: TaskOptions) -> list[str]:
        return [score_bin(float(fields["score"]), options)]


BINS = 4  # ranges a bounded score is cut into (SICK's 1-5: 1-2, 2-3, 3-4, 4-5)


def score_bin(score: float, options: TaskOptions) -> str:
    """The range a score falls in: one of BINS equal parts of `range` (its top end in the last), else the unit
    interval [k, k+1)."""
    if options.range is None:
        low = math.floor(score)
        return f"{low:g}-{low + 1:g}"
    lo, hi = options.range
    width = (hi - lo) / BINS
    index = min(BINS - 1, max(0, int((score - lo) // width)))
    return f"{lo + index * width:g}-{lo + (index + 1) * width:g}"


def _bin_start(name: str) -> float:
    return float(re.match(r"-?[^-]+", name).group())  # "1-2" -> 1, "-2--1" -> -2


def _width(options: dict) -> float:
    bounds = options.get("range")
    return 1.0 if bounds is None else float(bounds[1] - bounds[0])


def _correlation(sums: np.ndarray, n: float) -> float:
    """Pearson's r from n and the sums of x, y, x², y², xy; 0 when either side does not vary."""
    sx, sy, sxx, syy, sxy = (float(value) for value in sums)
    covariance = n * sxy - sx * sy
    spread = (n * sxx - sx * sx) * (n * syy - sy * sy)
    return covariance / math.sqrt(spread) if spread > 0 else 0.0


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as Spearman's rho needs)."""
    import numpy as np

    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
