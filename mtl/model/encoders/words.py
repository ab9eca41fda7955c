"""What the encoders trained from scratch (bilstm, transformer) share: [word embedding ; char CNN] per token,
and running one encoder pass over every text of a batch (a pair's two texts side by side).

A batch's texts are stacked along the batch dimension (stack_texts) and encoded in one pass, then the states
are cut back into one (B, T_i, H) tensor per text (split_states): a pair costs one pass over 2B texts, not
two passes. Padding never reaches a real token's state, so a text gets the same states stacked or alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mtl.model.batch import Text


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


class WordInput(nn.Module):
    """[word embedding ; char CNN] per token, with word dropout in training: (B, T) -> (B, T, D)."""

    def __init__(self, n_words: int, n_chars: int, options: dict) -> None:
        super().__init__()
        self.word_dropout = options["dropout"]
        self.words = nn.Embedding(n_words, options["dim"], padding_idx=0)
        self.chars = CharCNN(n_chars, options["char_dim"], options["char_filters"], options["char_kernel"])
        self.output_size = options["dim"] + options["char_filters"]

    def forward(self, text: Text) -> torch.Tensor:
        words = text.words
        if self.training and self.word_dropout > 0:
            # Known words sometimes become <unk> (id 1), so <unk> learns to stand for a rare word.
            drop = (torch.rand(words.shape, device=words.device) < self.word_dropout) & text.mask
            words = words.masked_fill(drop, 1)
        return torch.cat([self.words(words), self.chars(text.chars)], dim=-1)  # (B, T, Dw + F)


def stack_texts(texts: list[Text]) -> Text:
    """The texts of a batch one after another along the batch dimension, padded to the widest."""
    if len(texts) == 1:
        return texts[0]
    T = max(text.words.size(1) for text in texts)
    C = max(text.chars.size(2) for text in texts)
    pad = lambda t, *widths: F.pad(t, [p for w in reversed(widths) for p in (0, w)])  # noqa: E731
    return Text(
        torch.cat([pad(t.words, T - t.words.size(1)) for t in texts]),
        torch.cat([pad(t.chars, T - t.chars.size(1), C - t.chars.size(2)) for t in texts]),
        torch.cat([t.lengths for t in texts]),
        torch.cat([pad(t.mask, T - t.mask.size(1)) for t in texts]),
    )


def split_states(states: torch.Tensor, texts: list[Text]) -> list[torch.Tensor]:
    """Stacked states (sum B_i, T, H) -> one (B_i, T_i, H) per text, T_i its own padded width."""
    out, start = [], 0
    for text in texts:
        B, T = text.words.shape
        out.append(states[start : start + B, :T])
        start += B
    return out
