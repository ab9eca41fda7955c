"""Head modules the task kinds build (mtl/tasks/*.py say which, and own the loss and the decoding).

A head maps the shared encoder states (B, T, H) and the mask (B, T) to what its kind's loss and decode
read. The modules know nothing of kinds: they are layers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from mtl.model.crf import CRF


class TagScores(NamedTuple):
    emissions: torch.Tensor  # (B, T, L) per-token tag scores
    crf: CRF | None  # the transition model, when the head has one


class TokenTagger(nn.Module):
    """A linear layer per token, with an optional CRF on top."""

    def __init__(self, hidden_size: int, n_labels: int, *, crf: bool = False) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden_size, n_labels)
        self.crf = CRF(n_labels) if crf else None

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> TagScores:
        return TagScores(self.proj(states), self.crf)  # (B, T, H) -> (B, T, L)


class AttentionPooler(nn.Module):
    """Attention pooling with one learned query per task, then a linear layer: (B, T, H) -> (B, L).

    Each task gets its own query, so sentiment and question type can read different words out of the
    same shared states.
    """

    def __init__(self, hidden_size: int, n_labels: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(hidden_size) / math.sqrt(hidden_size))
        self.key = nn.Linear(hidden_size, hidden_size)
        self.proj = nn.Linear(hidden_size, n_labels)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keys = torch.tanh(self.key(states))  # (B, T, H)
        scores = keys @ self.query / math.sqrt(states.size(-1))  # (B, T)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=1)  # (B, T), 0 on padding
        pooled = (weights.unsqueeze(2) * states).sum(dim=1)  # (B, H)
        return self.proj(pooled)  # (B, L) logits
