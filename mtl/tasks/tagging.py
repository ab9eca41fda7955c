"""Tagging: one tag per token (POS, NER)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa

from mtl.tasks.kind import Check, FieldError, TaskOptions, require, token_list_error

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn


class TaggingOptions(TaskOptions):
    kind: Literal["tagging"] = "tagging"
    scheme: Literal["none", "bio"] = "none"  # "bio" adds entity-level metrics (seqeval's) and makes entity F1 primary
    crf: bool = True  # a linear-chain CRF + Viterbi over the tags instead of independent per-token softmaxes


class Tagging:
    name: ClassVar[str] = "tagging"
    Options: ClassVar[type[TaskOptions]] = TaggingOptions
    lower_is_better: ClassVar[frozenset[str]] = frozenset()

    # --- records --------------------------------------------------------------------------------------

    def fields(self, options: TaskOptions) -> dict[str, pa.DataType]:
        return {"tokens": pa.list_(pa.string()), "tags": pa.list_(pa.string())}

    def parse(self, fields: dict[str, Any], options: TaskOptions) -> dict[str, Any]:
        tags = require(fields, "tags", self.name)
        problem = token_list_error(tags, "tags")
        if problem:
            raise FieldError("bad_tags", problem)
        return {"tokens": fields["tokens"], "tags": list(tags)}

    def text_fields(self, options: TaskOptions) -> list[str]:
        return ["tokens"]

    def labels_of(self, fields: dict[str, Any]) -> list[str]:
        return list(fields["tags"])

    # --- validation -----------------------------------------------------------------------------------
    # GX has no expectations over lists, so a tagged sentence is checked through scalar columns: its tag
    # count (against n_tokens) and the tags it uses outside the label set.

    def derived_columns(self, frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
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

    def checks(self, labels: list[str], options: TaskOptions) -> list[Check]:
        import great_expectations as gx

        return [
            Check(gx.expectations.ExpectColumnPairValuesToBeEqual(column_A="n_tags", column_B="n_tokens"),
                  "n_tags_mismatch", "n_tags != n_tokens: {value}"),
            Check(gx.expectations.ExpectColumnValuesToBeInSet(column="unknown_tags", value_set=[""]),
                  "unknown_label", "tag outside the label set: {value}"),
        ]

    # --- model ----------------------------------------------------------------------------------------
    # A linear layer per token over the shared states, with an optional CRF. Targets are tag ids per
    # token, padded with 0 (the mask keeps padding out of loss and decoding).

    def build_head(self, hidden_size: int, n_labels: int, options: dict) -> nn.Module:
        from mtl.tasks.layers import TokenTagger

        return TokenTagger(hidden_size, n_labels, crf=bool(options.get("crf", False)))

    def target(self, fields: dict[str, Any]) -> list[str]:
        return list(fields["tags"])

    def target_ids(self, fields: dict[str, Any], label_ids: dict[str, int]) -> list[int]:
        return [label_ids[tag] for tag in fields["tags"]]

    def collate_targets(self, targets: list[list[int]], length: int) -> torch.Tensor:
        import torch

        out = torch.zeros(len(targets), length, dtype=torch.long)  # (B, T)
        for i, ids in enumerate(targets):
            out[i, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        return out

    def loss(self, head_output, batch) -> torch.Tensor:
        """Mean over tokens: cross-entropy, or the CRF's sentence NLLs summed and divided by the token count
        (so a loss weight means the same with or without a CRF). In fp32 whatever the autocast: the CRF's
        forward algorithm sums many log-probabilities."""
        import torch.nn.functional as F

        emissions, crf = head_output  # (B, T, L)
        emissions, mask = emissions.float(), batch.texts[0].mask
        if crf is not None:
            return crf.nll(emissions, batch.targets, mask).sum() / mask.sum()
        return F.cross_entropy(emissions[mask], batch.targets[mask])

    def decode(self, head_output, batch) -> list[list[str]]:
        emissions, crf = head_output
        text = batch.texts[0]
        if crf is not None:
            paths = crf.viterbi(emissions.float(), text.mask)
        else:
            best = emissions.argmax(dim=-1).tolist()  # (B, T)
            paths = [row[:n] for row, n in zip(best, text.lengths.tolist())]
        return [[batch.labels[i] for i in path] for path in paths]

    # --- metrics --------------------------------------------------------------------------------------
    # Per-sentence sufficient statistics whose column sums determine every metric: correct tokens, tokens;
    # with scheme "bio" also entity tp, predicted entities, gold entities. Entities follow seqeval's default
    # (conlleval-like) mode: a stray I- opens an entity.

    def metric_names(self, options: TaskOptions) -> list[str]:
        names = ["accuracy"]
        if options.scheme == "bio":
            names += ["entity_precision", "entity_recall", "entity_f1"]
        return names

    def default_metric(self, options: TaskOptions) -> str:
        return "entity_f1" if options.scheme == "bio" else "accuracy"

    def example_stats(self, gold: list, pred: list, labels: list[str], options: TaskOptions) -> np.ndarray:
        """(n_sentences, 2 or 5) float64; gold and pred are lists of tag sequences (strings)."""
        import numpy as np
        from seqeval.metrics.sequence_labeling import get_entities

        if len(gold) != len(pred):
            raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
        bio = options.scheme == "bio"
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

    def metrics_from_stats(self, totals: np.ndarray, labels: list[str], options: TaskOptions) -> dict[str, float]:
        metrics = {"accuracy": _ratio(totals[0], totals[1])}
        if options.scheme == "bio":
            tp, n_pred, n_gold = totals[2], totals[3], totals[4]
            metrics["entity_precision"] = _ratio(tp, n_pred)
            metrics["entity_recall"] = _ratio(tp, n_gold)
            metrics["entity_f1"] = _ratio(2 * tp, n_pred + n_gold)  # == 2PR/(P+R), 0 when nothing to find
        return metrics

    def confusion(self, gold: list, pred: list, labels: list[str]) -> dict[str, dict[str, int]] | None:
        return None  # token-level confusion is not reported for tagging (entity F1 says more)

    def per_class(self, gold: list, pred: list, labels: list[str], options: TaskOptions
                  ) -> dict[str, dict[str, float]]:
        """scheme bio: per entity type, precision, recall and F1 of exact entity matches (seqeval's, as
        entity_f1), and its gold entities (support). Otherwise per gold tag: accuracy (the share of its tokens
        tagged right), precision (the share of the tokens predicted as it that are it), and its tokens."""
        from collections import Counter

        if options.scheme == "bio":
            from seqeval.metrics.sequence_labeling import get_entities

            tp, n_pred, n_gold = Counter(), Counter(), Counter()
            for gold_tags, pred_tags in zip(gold, pred):
                gold_entities, pred_entities = set(get_entities(list(gold_tags))), set(get_entities(list(pred_tags)))
                tp.update(entity[0] for entity in gold_entities & pred_entities)
                n_pred.update(entity[0] for entity in pred_entities)
                n_gold.update(entity[0] for entity in gold_entities)
            return {kind: {"precision": _ratio(tp[kind], n_pred[kind]), "recall": _ratio(tp[kind], n_gold[kind]),
                           "f1": _ratio(2 * tp[kind], n_pred[kind] + n_gold[kind]), "support": n_gold[kind]}
                    for kind in sorted(n_gold | n_pred)}
        correct, n_gold, n_pred = Counter(), Counter(), Counter()
        for gold_tags, pred_tags in zip(gold, pred):
            for g, p in zip(gold_tags, pred_tags):
                n_gold[g] += 1
                n_pred[p] += 1
                correct[g] += g == p
        order = [*labels, *sorted(set(n_gold) - set(labels))]
        return {tag: {"accuracy": _ratio(correct[tag], n_gold[tag]), "precision": _ratio(correct[tag], n_pred[tag]),
                      "support": n_gold[tag]}
                for tag in order if n_gold[tag]}

    # --- drift: the distribution of the tags -----------------------------------------------------------

    def outcomes(self, fields: dict[str, Any], options: TaskOptions) -> list[str]:
        return list(fields["tags"])


def _ratio(numerator, denominator) -> float:
    # seqeval's zero_division default: an undefined ratio (nothing predicted or nothing gold) is 0.
    return float(numerator / denominator) if denominator else 0.0
