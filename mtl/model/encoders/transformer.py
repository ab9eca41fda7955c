"""A small Transformer encoder trained from scratch (model.encoder: transformer).

The same [word embedding ; char CNN] per token as the BiLSTM, projected to d_model, plus sinusoidal
positions (no parameters and no length limit), then pre-LN blocks (LayerNorm before attention and before
the MLP, a final LayerNorm after the last block), which train stably without a long warmup. Attention
only reads real tokens: the padding mask hides every padded key, so a sentence gets the same states
alone or padded in a batch. States are d_model wide.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mtl.config import ModelConfig
from mtl.model.batch import Text
from mtl.model.encoders.words import WordInput, split_states, stack_texts
from mtl.model.spec import MultiTaskConfig
from mtl.model.vocab import Vocab


def sinusoids(length: int, width: int) -> torch.Tensor:
    """Vaswani et al.'s positions: (T, D), sin on even and cos on odd dimensions."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10_000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, h, T, D/h)
        keys = mask[:, None, None, :]  # (B, 1, 1, T): every query reads real tokens only
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(B, T, D))  # (B, T, D)


class Block(nn.Module):
    """Pre-LN: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, width: int, heads: int, ff_size: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads, dropout)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, ff_size), nn.GELU(), nn.Linear(ff_size, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), mask))
        return x + self.dropout(self.mlp(self.mlp_norm(x)))


class TransformerEncoder(nn.Module):
    """[word embedding ; char CNN] per token -> linear to d_model + positions -> pre-LN blocks -> LayerNorm."""

    def __init__(self, config: MultiTaskConfig) -> None:
        super().__init__()
        options = config.encoder_options
        width = options["d_model"]
        self.input = WordInput(config.n_words, config.n_chars, options["words"])
        self.project = nn.Linear(self.input.output_size, width)
        self.blocks = nn.ModuleList(
            Block(width, options["attention_heads"], options["ff_size"], config.dropout) for _ in range(options["layers"])
        )
        self.norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(config.dropout)
        self.output_size = width
        self.n_layers = options["layers"]  # the states forward(texts, all_layers=True) returns

    def forward(self, texts: list[Text], all_layers: bool = False) -> list[torch.Tensor] | list[list[torch.Tensor]]:
        """One (B, T, D) tensor of word states per text; all_layers: per block (the last is the default output),
        that list, each block's states through the final LayerNorm (so the layers are on one scale) and the
        output dropout."""
        text = stack_texts(texts)
        x = self.input(text)  # (sum B, T, Dw + F)
        x = self.project(self.dropout(x)) + sinusoids(x.size(1), self.output_size).to(x.device)  # (sum B, T, D)
        layers = []
        for block in self.blocks:
            x = block(x, text.mask)
            layers.append(split_states(self.dropout(self.norm(x)), texts))
        return layers if all_layers else layers[-1]


def prepare(model_cfg: ModelConfig, vocab: Vocab, root: Path) -> tuple[Vocab, dict]:
    return vocab, {"words": model_cfg.words.model_dump(), **model_cfg.transformer.model_dump()}


def build(config: MultiTaskConfig, *, fresh: bool) -> TransformerEncoder:
    return TransformerEncoder(config)


def load_vocab(folder: Path) -> Vocab:
    return Vocab.load(folder / "vocab.json")
