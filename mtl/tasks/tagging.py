"""Tagging: one tag per token (POS, NER)."""

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


class Tagging:
    name = "tagging"

    # --- validation ----------------------------------------------------------------------------
    # A tagged sentence is checked through scalar columns, since GX has no expectations over lists:
    # its tag count (against n_tokens) and the tags it uses outside the label set.

    def labels_of(self, record: Record) -> list[str]:
        return list(record.tags)

    def derived_columns(self, frame: DataFrame, labels: list[str]) -> DataFrame:
        """n_tags, and unknown_tags: the record's tags outside the label set, space-joined ("" if none)."""
        import pandas as pd

        known = frozenset(labels)
        tags = frame["tags"]
        return pd.DataFrame(
            {
                "n_tags": tags.map(len).astype("int64"),
                "unknown_tags": tags.map(lambda row: " ".join(sorted(set(row) - known))).astype(object),
            },
            index=frame.index,
        )

    def expectations(self, labels: list[str], config: ValidationConfig) -> list[tuple[Expectation, str]]:
        """(expectation, quarantine reason); "{value}" in a reason becomes the record's failing value."""
        import great_expectations as gx

        return [
            (
                gx.expectations.ExpectColumnPairValuesToBeEqual(column_A="n_tags", column_B="n_tokens"),
                "n_tags != n_tokens: {value}",
            ),
            (
                gx.expectations.ExpectColumnValuesToBeInSet(column="unknown_tags", value_set=[""]),
                "tag outside the label set: {value}",
            ),
        ]

    # --- model ---------------------------------------------------------------------------------
    # A linear layer per token over the shared states, with an optional CRF (options["crf"]).
    # Targets are tag ids per token, padded with 0 (the mask keeps padding out of loss and decoding).
    # torch and the head modules are imported inside the methods: the data stages load the kinds
    # without paying for torch, and mtl.model (which looks the kinds up) is never imported in a cycle.

    def build_head(self, hidden_size: int, n_labels: int, options: dict) -> "nn.Module":
        from mtl.model.heads import TokenTagger

        return TokenTagger(hidden_size, n_labels, crf=bool(options.get("crf", False)))

    def target(self, example) -> list[str]:
        """The gold answer of a unified row (a mapping with "tags"), as decode returns it."""
        return list(example["tags"])

    def target_ids(self, example, label_ids: dict[str, int]) -> list[int]:
        return [label_ids[tag] for tag in example["tags"]]

    def collate_targets(self, targets: list[list[int]], length: int) -> "torch.Tensor":
        import torch

        out = torch.zeros(len(targets), length, dtype=torch.long)  # (B, T)
        for i, ids in enumerate(targets):
            out[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        return out

    def loss(self, head_output, batch) -> "torch.Tensor":
        """Mean over tokens: cross-entropy, or the CRF's sentence NLLs summed and divided by the token
        count (so a loss weight means the same with or without a CRF)."""
        import torch.nn.functional as F

        emissions, crf = head_output  # (B, T, L)
        if crf is not None:
            return crf.nll(emissions, batch.targets, batch.mask).sum() / batch.mask.sum()
        return F.cross_entropy(emissions[batch.mask], batch.targets[batch.mask])

    def decode(self, head_output, batch) -> list[list[str]]:
        emissions, crf = head_output
        if crf is not None:
            paths = crf.viterbi(emissions, batch.mask)
        else:
            best = emissions.argmax(dim=-1).tolist()  # (B, T)
            paths = [row[:n] for row, n in zip(best, batch.lengths.tolist())]
        return [[batch.labels[i] for i in path] for path in paths]

    # --- metrics -------------------------------------------------------------------------------
    # Metrics are computed from per-sentence sufficient statistics whose column sums determine every
    # metric, so a corpus score and each bootstrap resample are "sum the rows, apply one formula".
    # Columns: correct tokens, tokens; with scheme "bio" also entity tp, predicted entities, gold
    # entities. Entities follow seqeval's default (conlleval-like) mode: a stray I- opens an entity.
    # numpy and seqeval are imported inside the methods so importing the kind registry stays cheap.

    def default_metric(self, task_cfg) -> str:
        return "entity_f1" if task_cfg.scheme == "bio" else "accuracy"

    def metric_names(self, task_cfg) -> list[str]:
        names = ["accuracy"]
        if task_cfg.scheme == "bio":
            names += ["entity_precision", "entity_recall", "entity_f1"]
        return names

    def example_stats(self, gold: list, pred: list, labels: list[str], task_cfg) -> "np.ndarray":
        """(n_sentences, 2 or 5) float64; gold and pred are lists of tag sequences (strings)."""
        import numpy as np
        from seqeval.metrics.sequence_labeling import get_entities

        if len(gold) != len(pred):
            raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
        bio = task_cfg.scheme == "bio"
        rows = np.zeros((len(gold), 5 if bio else 2), dtype=np.float64)
        for i, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
            if len(gold_tags) != len(pred_tags):
                raise ValueError(f"sentence {i}: {len(gold_tags)} gold tags but {len(pred_tags)} predicted")
            rows[i, 0] = sum(g == p for g, p in zip(gold_tags, pred_tags))
            rows[i, 1] = len(gold_tags)
            if bio:  # per sentence == seqeval's concatenation, which puts an "O" between sentences
                gold_entities = set(get_entities(list(gold_tags)))
                pred_entities = set(get_entities(list(pred_tags)))
                rows[i, 2:] = len(gold_entities & pred_entities), len(pred_entities), len(gold_entities)
        return rows

    def metrics_from_stats(self, totals: "np.ndarray", labels: list[str], task_cfg) -> dict[str, float]:
        metrics = {"accuracy": _ratio(totals[0], totals[1])}
        if task_cfg.scheme == "bio":
            tp, n_pred, n_gold = totals[2], totals[3], totals[4]
            metrics["entity_precision"] = _ratio(tp, n_pred)
            metrics["entity_recall"] = _ratio(tp, n_gold)
            metrics["entity_f1"] = _ratio(2 * tp, n_pred + n_gold)  # == 2PR/(P+R), 0 when nothing to find
        return metrics

    def confusion(self, gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]] | None:
        return None  # token-level confusion is not reported for tagging (entity F1 says more)


def _ratio(numerator, denominator) -> float:
    # seqeval's zero_division default: an undefined ratio (nothing predicted or nothing gold) is 0.
    return float(numerator / denominator) if denominator else 0.0
