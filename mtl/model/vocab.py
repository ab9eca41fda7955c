"""Word and character vocabularies, built from train and saved with the model as JSON.

Id 0 is padding and id 1 is <unk> in both, so a padded batch needs no extra bookkeeping and a word or
character never seen in train still has an embedding (the one word dropout trains).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAD, UNK = "<pad>", "<unk>"


@dataclass
class Vocab:
    words: list[str]  # id -> word; words[0] = PAD, words[1] = UNK
    chars: list[str]  # id -> character; same two reserved ids
    lowercase: bool = True
    max_word_chars: int = 20  # characters kept per word for the char CNN
    _word_ids: dict[str, int] = field(init=False, repr=False)
    _char_ids: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._word_ids = {w: i for i, w in enumerate(self.words) if i > 0}  # a literal "<pad>" is <unk>
        self._char_ids = {c: i for i, c in enumerate(self.chars)}

    def normalise(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def encode(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """tokens -> word ids (T,) and char ids (T, C), C = the longest (cut) word of this sentence."""
        words = np.array([self._word_ids.get(self.normalise(t), 1) for t in tokens], dtype=np.int32)
        width = max((min(len(t), self.max_word_chars) for t in tokens), default=1)
        chars = np.zeros((len(tokens), max(width, 1)), dtype=np.int32)
        for i, token in enumerate(tokens):
            ids = [self._char_ids.get(c, 1) for c in token[: self.max_word_chars]]
            chars[i, : len(ids)] = ids
        return words, chars

    def encode_texts(self, texts: list[list[str]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text of an example, encoded on its own (a word vocabulary reads a pair's texts alike)."""
        return [self.encode(tokens) for tokens in texts]

    def to_json(self) -> dict:
        return {"words": self.words, "chars": self.chars, "lowercase": self.lowercase,
                "max_word_chars": self.max_word_chars}

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        return cls(data["words"], data["chars"], data["lowercase"], data["max_word_chars"])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def build_vocab(
    sentences: Iterable[list[str]], *, min_count: int, lowercase: bool, max_word_chars: int
) -> Vocab:
    """Words seen at least min_count times and every character seen, ordered by count then text
    (so the same corpus always gives the same ids)."""
    word_counts: Counter[str] = Counter()
    char_counts: Counter[str] = Counter()
    for tokens in sentences:
        for token in tokens:
            word_counts[token.lower() if lowercase else token] += 1
            char_counts.update(token[:max_word_chars])
    by_count = lambda counts: sorted(counts, key=lambda k: (-counts[k], k))  # noqa: E731
    words = [w for w in by_count(word_counts) if word_counts[w] >= min_count and w not in (PAD, UNK)]
    return Vocab([PAD, UNK, *words], [PAD, UNK, *by_count(char_counts)], lowercase, max_word_chars)
