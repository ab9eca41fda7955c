"""Words <-> sub-word pieces, for the pretrained encoder: split, cut to the model's length, pool back.

A sentence arrives as words (the dataset's tokens) and must leave as one state per word, so tagging
heads still tag words. Three steps:

    encode  (SubwordVocab)  tokenizer(words, is_split_into_words=True).word_ids() groups the pieces by
                            word; a word the tokenizer drops entirely (e.g. a zero-width space) gets
                            the unknown piece, so every word has at least one
    cut     (fit_pieces)    to the pieces the model can read; the rule is in fit_pieces
    pool    (pool_words)    the encoder's piece states back to one state per word: its first piece's
                            state, or the mean of its pieces' states (model.subword_pooling)

A text's pieces travel in Text.chars, which holds per-word sub-units: (T, P) piece ids + 1 per word, 0 =
none. That is the same padded (B, T, C) layout the word-level encoders fill with characters, so the batching
and the training loop are unchanged. pack_pieces lays one text, or a pair, out as the model's input, with
the tokenizer's own special tokens and token types (a pair is one sequence: its texts attend to each other).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def word_pieces(tokenizer: Any, words: list[str], unk_id: int) -> list[list[int]]:
    """The piece ids of each word, through the tokenizer's own word alignment (word_ids())."""
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    pieces: list[list[int]] = [[] for _ in words]
    for piece, word in zip(encoding["input_ids"], encoding.word_ids()):
        if word is not None:
            pieces[word].append(piece)
    return [p or [unk_id] for p in pieces]


def fit_pieces(pieces: list[list[int]], budget: int) -> list[list[int]]:
    """Cut a sentence's pieces to at most `budget` (the model's max length less its special tokens).

    The rule: every word keeps its first piece before any word keeps a second one. If the sentence is
    too long, each word keeps its first k pieces, k as large as fits (so long words lose their trailing
    pieces and short ones lose nothing). If even one piece per word is too many, the first `budget`
    words keep their first piece and the words after them get none: their state is a zero vector, so
    they are still tagged (by the heads' biases and the CRF's transitions), only without context.
    """
    if sum(map(len, pieces)) <= budget:
        return pieces
    if len(pieces) > budget:
        return [p[:1] for p in pieces[:budget]] + [[] for _ in pieces[budget:]]
    k = 1
    while sum(min(len(p), k + 1) for p in pieces) <= budget:
        k += 1
    return [p[:k] for p in pieces]


@dataclass
class SubwordVocab:
    """A pretrained model's tokenizer in the place of the word vocabulary: encode(words) -> (ones (T,),
    piece ids + 1 (T, P)). Saved as vocab.json ({"kind": "subwords", "max_pieces"}) and the tokenizer's
    own files (tokenizer.json, tokenizer_config.json, ...) beside it."""

    tokenizer: Any  # a transformers tokenizer
    max_pieces: dict[str, int]  # per number of texts read together ("1", "2"): pieces the model reads, the
                                # special tokens not counted

    def encode(self, tokens: list[str], share: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """share: how many texts the model reads together with this one (a pair: 2); each gets an even part
        of what the model can read."""
        unk = self.tokenizer.unk_token_id
        budget = self.max_pieces[str(share)] // share
        pieces = fit_pieces(word_pieces(self.tokenizer, tokens, 0 if unk is None else unk), budget)
        table = np.zeros((len(tokens), max(1, max(map(len, pieces), default=1))), dtype=np.int64)  # (T, P)
        for i, ids in enumerate(pieces):
            table[i, : len(ids)] = np.asarray(ids, dtype=np.int64) + 1
        return np.ones(len(tokens), dtype=np.int64), table  # word ids are unused: every word is "known"

    def encode_texts(self, texts: list[list[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.encode(tokens, share=len(texts)) for tokens in texts]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"kind": "subwords", "max_pieces": self.max_pieces}), encoding="utf-8")
        self.tokenizer.save_pretrained(path.parent)

    @classmethod
    def load(cls, path: Path) -> SubwordVocab:
        from transformers import AutoTokenizer

        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("kind") != "subwords":
            raise ValueError(f"{path}: not a sub-word vocabulary (kind {data.get('kind')!r})")
        return cls(AutoTokenizer.from_pretrained(path.parent, local_files_only=True), dict(data["max_pieces"]))


def pack_pieces(pieces: list[torch.Tensor], template: dict, pad_id: int
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The texts' sub-word pieces (one (B, T_i, P_i) table per text: piece id + 1, 0 = none) -> the model's
    input ids (B, S), attention mask (B, S), token type ids (B, S) and the word of each position (B, S; -1 on
    special tokens and padding; text i's words numbered after text i-1's, so one pooling serves them all).

    template: the tokenizer's own layout, {"segments": special ids before the first text, between texts and
    after the last, "segment_types": their token types, "text_types": each text's type}, as `layout` reads it
    off the tokenizer: [CLS] A [SEP] for one text, [CLS] A [SEP] B [SEP] (types 0 0 0 1 1) for BERT's pairs."""
    segments, segment_types, text_types = template["segments"], template["segment_types"], template["text_types"]
    B = pieces[0].size(0)
    device = pieces[0].device
    flats = [p.reshape(B, -1) for p in pieces]  # (B, T_i * P_i) each
    counts = [(flat > 0).sum(1) for flat in flats]
    starts, position = [], torch.full((B,), len(segments[0]), dtype=torch.long, device=device)
    for i, count in enumerate(counts):
        starts.append(position)
        position = position + count + len(segments[i + 1])
    ends = position  # (B,) each example's length
    S = int(ends.max())
    ids = torch.full((B, S + 1), pad_id, dtype=torch.long, device=device)  # column S: a spare slot, dropped
    types = torch.zeros((B, S + 1), dtype=torch.long, device=device)
    words = torch.full((B, S + 1), -1, dtype=torch.long, device=device)
    rows = torch.arange(B, device=device)
    word_offset = 0
    for i, (flat, start) in enumerate(zip(flats, starts)):
        real = flat > 0
        slot = torch.where(real, start.unsqueeze(1) + real.cumsum(1) - 1, S)  # (B, T_i * P_i)
        ids.scatter_(1, slot, flat - 1)
        types.scatter_(1, slot, torch.full_like(slot, text_types[i]))
        P = pieces[i].size(2)
        word_of_slot = torch.arange(flat.size(1), device=device).div(P, rounding_mode="floor") + word_offset
        words.scatter_(1, slot, word_of_slot.expand(B, -1))
        word_offset += pieces[i].size(1)
    for k, (segment, segment_type) in enumerate(zip(segments, segment_types)):
        base = torch.zeros(B, dtype=torch.long, device=device) if k == 0 else starts[k - 1] + counts[k - 1]
        for j, (token, token_type) in enumerate(zip(segment, segment_type)):
            ids[rows, base + j] = token
            types[rows, base + j] = token_type
    ids[:, S], words[:, S] = pad_id, -1
    attention = torch.arange(S, device=device).unsqueeze(0) < ends.unsqueeze(1)  # (B, S)
    return ids[:, :S], attention, types[:, :S], words[:, :S]


def layout(tokenizer: Any, n_texts: int) -> dict:
    """Where the tokenizer puts its special tokens around n_texts texts, read off a probe ("a", and "b")."""
    probe = tokenizer(*[["a"], ["b"]][:n_texts], is_split_into_words=True)
    ids = probe["input_ids"]
    types = probe.get("token_type_ids") or [0] * len(ids)
    inside = [i for i, sequence in enumerate(probe.sequence_ids()) if sequence is not None]
    if len(inside) != n_texts:
        raise ValueError(f"the tokenizer split the probe words 'a'/'b' into {len(inside)} pieces, not {n_texts}")
    cuts = [0, *[i for i in inside], len(ids)]  # each text is one piece in the probe
    segments = [ids[cuts[k] + (k > 0) : cuts[k + 1]] for k in range(n_texts + 1)]
    segment_types = [types[cuts[k] + (k > 0) : cuts[k + 1]] for k in range(n_texts + 1)]
    return {"segments": segments, "segment_types": segment_types, "text_types": [types[i] for i in inside]}


def pool_words(states: torch.Tensor, words: torch.Tensor, n_words: int, pooling: str) -> torch.Tensor:
    """Piece states (B, S, H) -> word states (B, T, H), T = n_words. words (B, S): the word each position
    belongs to, -1 for none; a word's pieces are consecutive. pooling "first": the state of each word's
    first piece; "mean": the mean of its pieces' states. A word without pieces gets zeros."""
    belongs = words >= 0
    if pooling == "first":
        previous = F.pad(words[:, :-1], (1, 0), value=-1)
        weight = belongs & (words != previous)  # (B, S): each word's first position only
    elif pooling == "mean":
        weight = belongs
    else:
        raise ValueError(f"unknown subword pooling {pooling!r}; known: first, mean")
    weight = weight.to(states.dtype)
    slot = words + 1  # slot 0 gathers whatever belongs to no word, and is dropped
    B, _, H = states.shape
    sums = states.new_zeros(B, n_words + 1, H).scatter_add_(1, slot.unsqueeze(2).expand(-1, -1, H),
                                                           states * weight.unsqueeze(2))
    counts = weight.new_zeros(B, n_words + 1).scatter_add_(1, slot, weight)
    return (sums / counts.clamp(min=1).unsqueeze(2))[:, 1:]  # (B, T, H)
