"""Head modules the task kinds build (mtl/tasks/<kind>.py say which, and own the loss and the decoding).

A head reads a list of Encoded texts, one per text of the example (one; two for a pair): each the encoder's
word states (B, T, H) and its mask (B, T). The modules know nothing of kinds: they are layers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from mtl.tasks.crf import CRF
from mtl.tasks.kind import Encoded


class TagScores(NamedTuple):
    emissions: torch.Tensor  # (B, T, L) per-token tag scores
    crf: CRF | None  # the transition model, when the head has one


class TokenTagger(nn.Module):
    """A linear layer per token of the first text, with an optional CRF on top."""

    def __init__(self, hidden_size: int, n_labels: int, *, crf: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, n_labels)
        self.crf = CRF(n_labels) if crf else None

    def forward(self, encoded: list[Encoded]) -> TagScores:
        return TagScores(self.proj(encoded[0].states), self.crf)  # (B, T, H) -> (B, T, L)


class AttentionPool(nn.Module):
    """Attention pooling with one learned query: (B, T, H) states -> (B, H), padding never read.

    Each head has its own query, so sentiment and question type read different words of the same states."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(hidden_size) / math.sqrt(hidden_size))
        self.key = nn.Linear(hidden_size, hidden_size)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keys = torch.tanh(self.key(states))  # (B, T, H)
        scores = keys @ self.query / math.sqrt(states.size(-1))  # (B, T)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=1)  # (B, T), 0 on padding
        return (weights.unsqueeze(2) * states).sum(dim=1)  # (B, H)


class TextClassifier(nn.Module):
    """One text -> attention pooling -> a linear layer: (B, L) logits."""

    def __init__(self, hidden_size: int, n_labels: int) -> None:
        super().__init__()
        self.pool = AttentionPool(hidden_size)
        self.proj = nn.Linear(hidden_size, n_labels)

    def forward(self, encoded: list[Encoded]) -> torch.Tensor:
        return self.proj(self.pool(*encoded[0]))  # (B, L)


class TextsScorer(nn.Module):
    """One or two texts -> (B, n_outputs). Each text is pooled by one shared attention pooling into u (and v);
    a pair is compared through [u; v; |u - v|; u * v] (InferSent, Conneau et al. 2017; Tai et al. 2015 for
    relatedness), then a tanh layer and a linear one. Every encoder and sharing scheme gives the per-text
    states this needs; a pretrained encoder has also let the two texts attend to each other (it reads the
    pair packed as one sequence)."""

    def __init__(self, hidden_size: int, n_outputs: int, n_texts: int) -> None:
        super().__init__()
        self.pool = AttentionPool(hidden_size)
        features = hidden_size if n_texts == 1 else 4 * hidden_size
        self.hidden = nn.Linear(features, hidden_size)
        self.proj = nn.Linear(hidden_size, n_outputs)

    def forward(self, encoded: list[Encoded]) -> torch.Tensor:
        pooled = [self.pool(*text) for text in encoded]  # one (B, H) per text
        if len(pooled) == 1:
            features = pooled[0]
        else:
            u, v = pooled
            features = torch.cat([u, v, (u - v).abs(), u * v], dim=-1)  # (B, 4H)
        return self.proj(torch.tanh(self.hidden(features)))  # (B, n_outputs)
