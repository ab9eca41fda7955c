"""The task-kind contract: everything that differs between tagging, classification, pairs and scores.

A kind is one module holding one class that satisfies `TaskKind`. It declares

    Options          its section of params (tasks.<name>): kind, labels, and its own knobs (tagging: scheme,
                     crf; regression: texts, range), validated when params load
    fields           the fields its records carry, with their Arrow types: so its columns in the unified Parquet
    parse            a reader's generic fields (tokens, tokens_b, tags, label) -> its own, or a FieldError
    checks           its Great Expectations, each with a stable quarantine key and a reason
    text_fields      which of its fields are texts the model reads (tokens; tokens_b too for a pair): validation
                     checks each like a sentence, the model encodes each with the shared encoder
    build_head ...   its head, targets, loss and decoding
    metrics          names, the primary one, directions, per-example sufficient statistics (column sums
                     determine every metric, so bootstrap intervals and the gate's paired test work unchanged)
    per_class        the scores broken down by class: per entity type (BIO tagging), per tag, per label, per
                     score range
    outcomes         the categorical values of a record whose distribution drift compares (tags, a label, or a
                     score's range)

Nothing outside mtl/tasks branches on a kind's name: records, ingest, unify, validation, training, prediction,
evaluation, the gate and the transfer report go through this contract. torch, numpy, pandas and GX are
imported inside the kinds' methods, so the data stages that look a kind up pay only for what they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import torch
    from torch import nn


class TaskOptions(BaseModel):
    """A task in params: its kind, its label set (learned from train when omitted), and the kind's knobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    labels: list[str] | None = None


class Check(NamedTuple):
    """One record-level expectation: a GX Expectation over the record frame, the stable key a failing record
    is counted under, and the reason it is quarantined with ("{value}" becomes its failing value)."""

    expectation: Any
    key: str
    reason: str


class FieldError(ValueError):
    """A record's fields do not fit its task's kind; becomes a quarantine entry under `key`."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class Encoded(NamedTuple):
    """One text of a batch as the heads read it: the encoder's word states and the real-word mask."""

    states: torch.Tensor  # (B, T, H)
    mask: torch.Tensor  # (B, T), True on real words


class TaskKind(Protocol):
    name: ClassVar[str]
    Options: ClassVar[type[TaskOptions]]
    lower_is_better: ClassVar[frozenset[str]]  # metrics where smaller is better (the gate's direction)

    # --- records ------------------------------------------------------------------------------------
    def fields(self, options: TaskOptions) -> dict[str, pa.DataType]: ...

    def parse(self, fields: dict[str, Any], options: TaskOptions) -> dict[str, Any]: ...

    def text_fields(self, options: TaskOptions) -> list[str]: ...

    def labels_of(self, fields: dict[str, Any]) -> list[str]: ...

    # --- validation ---------------------------------------------------------------------------------
    def derived_columns(self, frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame: ...

    def checks(self, labels: list[str], options: TaskOptions) -> list[Check]: ...

    # --- model --------------------------------------------------------------------------------------
    def build_head(self, hidden_size: int, n_labels: int, options: dict) -> nn.Module: ...

    def target(self, fields: dict[str, Any]) -> Any: ...

    def target_ids(self, fields: dict[str, Any], label_ids: dict[str, int]) -> Any: ...

    def collate_targets(self, targets: list, length: int) -> torch.Tensor: ...

    def loss(self, head_output: Any, batch: Any) -> torch.Tensor: ...

    def decode(self, head_output: Any, batch: Any) -> list: ...

    # --- metrics ------------------------------------------------------------------------------------
    def metric_names(self, options: TaskOptions) -> list[str]: ...

    def default_metric(self, options: TaskOptions) -> str: ...

    def example_stats(self, gold: list, pred: list, labels: list[str], options: TaskOptions) -> np.ndarray: ...

    def metrics_from_stats(self, totals: np.ndarray, labels: list[str], options: TaskOptions) -> dict[str, float]: ...

    def confusion(self, gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]] | None: ...

    def per_class(self, gold: list, pred: list, labels: list[str], options: TaskOptions
                  ) -> dict[str, dict[str, float]]: ...

    # --- data drift -----------------------------------------------------------------------------------
    def outcomes(self, fields: dict[str, Any], options: TaskOptions) -> list[str]: ...


def token_list_error(value: Any, name: str) -> str | None:
    """Why `value` is not a list of strings (the shape of every text and tag field), or None. An empty list
    passes here: validation counts tokens (n_tokens >= 1) and quarantines it with that reason."""
    if not isinstance(value, list):
        return f"{name} must be a list of tokens"
    if not all(isinstance(token, str) for token in value):
        return f"{name} must hold strings only"
    return None


def require_text(fields: dict[str, Any], name: str, kind: str) -> list[str]:
    """A text field (tokens, tokens_b) the kind reads: a token list, or a FieldError."""
    problem = token_list_error(require(fields, name, kind), name)
    if problem:
        raise FieldError(f"bad_{name}", problem)
    return list(fields[name])


def require(fields: dict[str, Any], name: str, kind: str) -> Any:
    """A field the kind needs; its absence is a FieldError naming the kind and the field."""
    if fields.get(name) is None:
        raise FieldError(f"missing_{name}", f"no {name}: a {kind} task needs one (check the corpus's options)")
    return fields[name]
