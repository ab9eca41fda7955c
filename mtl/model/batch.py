"""A padded batch of encoded sentences, as the encoder and the task kinds see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(slots=True)
class Example:
    words: np.ndarray  # (T,) word ids
    chars: np.ndarray  # (T, C) char ids, 0-padded
    target: Any = None  # the kind's target ids (per token for tagging, one for classification)


@dataclass
class Batch:
    words: torch.Tensor  # (B, T) word ids, 0 = padding
    chars: torch.Tensor  # (B, T, C) char ids, 0 = padding
    lengths: torch.Tensor  # (B,) tokens per sentence
    mask: torch.Tensor  # (B, T) True on real tokens
    task: str = ""
    labels: list[str] | None = None  # the task's label names, for decoding
    targets: torch.Tensor | None = None  # built by the task kind; None when predicting
    index: list[int] | None = None  # where each row came from in the caller's list

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())


def collate(examples: list[Example], *, index: list[int] | None = None) -> Batch:
    """Pad word and char ids of sentences into one Batch (targets are added by the task kind)."""
    lengths = [len(e.words) for e in examples]
    B, T = len(examples), max(lengths)
    C = max(e.chars.shape[1] for e in examples)
    words = np.zeros((B, T), dtype=np.int64)
    chars = np.zeros((B, T, C), dtype=np.int64)
    for i, e in enumerate(examples):
        words[i, : len(e.words)] = e.words
        chars[i, : e.chars.shape[0], : e.chars.shape[1]] = e.chars
    lengths_t = torch.tensor(lengths, dtype=torch.long)
    mask = torch.arange(T).unsqueeze(0) < lengths_t.unsqueeze(1)  # (B, T)
    return Batch(torch.from_numpy(words), torch.from_numpy(chars), lengths_t, mask, index=index)
