"""A padded batch of encoded examples, as the encoders and the task kinds see it.

An example is one or more texts (one sentence; two for a pair), each encoded by the vocabulary as word ids and
per-word sub-units (characters, or a pretrained tokenizer's pieces). A batch pads each text position
separately: Batch.texts[0] holds every example's first text, Batch.texts[1] every second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

Encoding = tuple[np.ndarray, np.ndarray]  # a text's (T,) word ids and (T, C) sub-unit ids, 0-padded


@dataclass(slots=True)
class Example:
    texts: list[Encoding]  # one per text of the example
    target: Any = None  # the kind's target ids (per token for tagging, one for classification, a float score)


@dataclass
class Text:
    """One text of every example of a batch, padded."""

    words: torch.Tensor  # (B, T) word ids, 0 = padding
    chars: torch.Tensor  # (B, T, C) char (or piece) ids, 0 = padding
    lengths: torch.Tensor  # (B,) tokens per text
    mask: torch.Tensor  # (B, T) True on real tokens

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Text:
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return Text(move(self.words), move(self.chars), move(self.lengths), move(self.mask))

    def pin_memory(self) -> Text:
        return Text(self.words.pin_memory(), self.chars.pin_memory(), self.lengths.pin_memory(),
                    self.mask.pin_memory())


@dataclass
class Batch:
    texts: list[Text]  # one per text position of the examples
    task: str = ""
    labels: list[str] = field(default_factory=list)  # the task's label names, for decoding
    task_options: dict[str, Any] = field(default_factory=dict)  # the task's kind options (a regression's range)
    targets: torch.Tensor | None = None  # built by the task kind; None when predicting
    index: list[int] | None = None  # where each row came from in the caller's list

    @property
    def n_tokens(self) -> int:
        return sum(int(text.lengths.sum()) for text in self.texts)

    @property
    def size(self) -> int:
        return int(self.texts[0].lengths.numel())

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        targets = None if self.targets is None else self.targets.to(device, non_blocking=non_blocking)
        return Batch([text.to(device, non_blocking) for text in self.texts], self.task, self.labels,
                     self.task_options, targets, self.index)

    def pin_memory(self) -> Batch:
        targets = None if self.targets is None else self.targets.pin_memory()
        return Batch([text.pin_memory() for text in self.texts], self.task, self.labels, self.task_options,
                     targets, self.index)


def pad_text(encodings: list[Encoding]) -> Text:
    """Pad the word and sub-unit ids of one text position of a batch."""
    lengths = [len(words) for words, _ in encodings]
    B, T = len(encodings), max(lengths)
    C = max(chars.shape[1] for _, chars in encodings)
    words = np.zeros((B, T), dtype=np.int64)
    chars = np.zeros((B, T, C), dtype=np.int64)
    for i, (word_ids, char_ids) in enumerate(encodings):
        words[i, : len(word_ids)] = word_ids
        chars[i, : char_ids.shape[0], : char_ids.shape[1]] = char_ids
    lengths_t = torch.tensor(lengths, dtype=torch.long)
    mask = torch.arange(T).unsqueeze(0) < lengths_t.unsqueeze(1)  # (B, T)
    return Text(torch.from_numpy(words), torch.from_numpy(chars), lengths_t, mask)


def collate(examples: list[Example], *, index: list[int] | None = None) -> Batch:
    """Pad each text position of the examples into one Batch (targets are added by the task kind)."""
    n_texts = {len(example.texts) for example in examples}
    if len(n_texts) != 1:
        raise ValueError(f"a batch mixes examples of {sorted(n_texts)} texts")
    texts = [pad_text([example.texts[position] for example in examples]) for position in range(n_texts.pop())]
    return Batch(texts, index=index)
