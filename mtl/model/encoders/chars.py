"""The character CNN both word-level encoders (bilstm, transformer) put beside each word's embedding."""

from __future__ import annotations

import torch
from torch import nn


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
