"""The multi-task model, hard parameter sharing: one shared encoder, one small head per task.

Reading order: config, character CNN, encoder, MultiTaskModel. Heads come from the task kinds
(mtl/tasks/*.py, building on mtl/model/heads.py), so nothing here knows tagging from classification.
Shapes: B sentences, T tokens, C characters per word, H = 2 x hidden_size encoder width, L labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from mtl.model.batch import Batch
from mtl.model.vocab import Vocab
from mtl.tasks import get_kind


@dataclass
class TaskSpec:
    kind: str  # a name in mtl.tasks.KINDS
    labels: list[str]  # id -> label name
    scheme: str = "none"
    options: dict[str, Any] = field(default_factory=dict)  # passed to the kind's build_head (e.g. crf)


@dataclass
class MultiTaskConfig:
    """The model's shape; build_model fills it from params.model, the vocabularies and the labels."""

    n_words: int
    n_chars: int
    word_dim: int
    char_dim: int
    char_filters: int
    char_kernel: int
    hidden_size: int  # per LSTM direction
    layers: int
    dropout: float
    word_dropout: float
    tasks: dict[str, TaskSpec]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MultiTaskConfig:
        tasks = {name: TaskSpec(**spec) for name, spec in data["tasks"].items()}
        return cls(**{**data, "tasks": tasks})


class CharCNN(nn.Module):
    """Characters of each word -> one vector per word: embed, convolve, max-pool over the characters."""

    def __init__(self, n_chars: int, char_dim: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding="same")

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        B, T, C = chars.shape
        flat = chars.reshape(B * T, C)
        x = self.conv(self.embed(flat).transpose(1, 2))  # (B*T, C, Dc) -> (B*T, F, C)
        # Pool over real characters only, so a word's vector never depends on how wide the batch is.
        x = x.masked_fill((flat == 0).unsqueeze(1), float("-inf")).amax(dim=2)  # (B*T, F)
        x = torch.relu(x.masked_fill(torch.isinf(x), 0.0))  # padding words (no characters) -> 0
        return x.reshape(B, T, -1)  # (B, T, F)


class BiLSTM(nn.Module):
    """A stacked bidirectional LSTM over padded batches: (B, T, D) -> (B, T, 2 x hidden).

    The forward direction reads a sentence's padding only after its last token, and the backward
    direction reads each sentence reversed within its own length (padding still last), so padding
    never reaches a real token's state. Packed sequences give the same result but ran ~1.8x slower
    here on CPU (measured with 2 threads, batches of 1,000 tokens).
    """

    def __init__(self, input_size: int, hidden_size: int, layers: int, dropout: float) -> None:
        super().__init__()
        sizes = [input_size] + [2 * hidden_size] * (layers - 1)
        self.ahead = nn.ModuleList(nn.LSTM(size, hidden_size, batch_first=True) for size in sizes)
        self.behind = nn.ModuleList(nn.LSTM(size, hidden_size, batch_first=True) for size in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps, ends = torch.arange(x.size(1)).unsqueeze(0), lengths.unsqueeze(1)
        flip = torch.where(steps < ends, ends - 1 - steps, steps).unsqueeze(2)  # (B, T, 1); its own inverse
        for i, (ahead, behind) in enumerate(zip(self.ahead, self.behind)):
            if i > 0:
                x = self.dropout(x)  # between layers
            forward_states, _ = ahead(x)  # (B, T, H/2)
            backward_states, _ = behind(x.gather(1, flip.expand_as(x)))  # each sentence reversed
            backward_states = backward_states.gather(1, flip.expand_as(backward_states))  # back in order
            x = torch.cat([forward_states, backward_states], dim=-1)  # (B, T, H)
        return x


class BiLSTMEncoder(nn.Module):
    """[word embedding ; char CNN] per token -> stacked BiLSTM."""

    def __init__(self, config: MultiTaskConfig) -> None:
        super().__init__()
        self.word_dropout = config.word_dropout
        self.words = nn.Embedding(config.n_words, config.word_dim, padding_idx=0)
        self.chars = CharCNN(config.n_chars, config.char_dim, config.char_filters, config.char_kernel)
        self.lstm = BiLSTM(config.word_dim + config.char_filters, config.hidden_size, config.layers, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.output_size = 2 * config.hidden_size

    def forward(self, batch: Batch) -> torch.Tensor:
        words = batch.words
        if self.training and self.word_dropout > 0:
            # Known words sometimes become <unk> (id 1), so <unk> learns to stand for a rare word.
            drop = (torch.rand(words.shape) < self.word_dropout) & batch.mask
            words = words.masked_fill(drop, 1)
        x = torch.cat([self.words(words), self.chars(batch.chars)], dim=-1)  # (B, T, Dw + F)
        x = self.lstm(self.dropout(x), batch.lengths)  # (B, T, H)
        return self.dropout(x)


class MultiTaskModel(nn.Module):
    def __init__(self, config: MultiTaskConfig, vocab: Vocab, params: dict | None = None) -> None:
        super().__init__()
        self.config = config
        self.vocab = vocab  # not weights: saved as vocab.json beside them
        self.params = params or {}  # the resolved params it was trained with, saved in config.json
        self.encoder = BiLSTMEncoder(config)
        self.heads = nn.ModuleDict(
            {
                name: get_kind(spec.kind).build_head(self.encoder.output_size, len(spec.labels), spec.options)
                for name, spec in config.tasks.items()
            }
        )

    def forward(self, batch: Batch, tasks: list[str]) -> dict[str, Any]:
        """Encode once, then run each asked head on the shared states: {task: head output}."""
        states = self.encoder(batch)  # (B, T, H)
        return {task: self.heads[task](states, batch.mask) for task in tasks}

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
