"""Cross-task leakage: the texts of one task's dev or test split (or of an extra evaluation set) that occur in
another task's train split.

A multi-task model trains its shared encoder on every task's train split, so a sentence that is in POS's train
and NER's test was seen by the encoder before NER is scored on it. Within one task, validation's
train_test_overlap check finds this; across tasks only the unified dataset shows it, so unify runs this check.

Texts are compared normalised: lowercased, punctuation dropped, whitespace collapsed. Exact: the normalised
texts are equal. Near-duplicate: not exact, and the Jaccard similarity of the two texts' word-bigram sets is at
least `similarity` (bigrams keep word order: a word-swap contrast is a different sentence). They are found by
an exact similarity join (prefix filtering, Bayardo et al. 2007: two sets with Jaccard >= t share an element
among the first |x| - ceil(t|x|) + 1 of each, in one global order), so no pair above the threshold is missed
and no pair is compared that cannot reach it.

What is compared is what the two tasks share: two pair tasks (entailment, relatedness) compare whole pairs,
otherwise each text of a pair is compared on its own. Texts shorter than `min_tokens` words are skipped.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from mtl.config import LeakageConfig
from mtl.errors import MtlError
from mtl.errors import MtlError

EVALUATED_SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Unit:
    """A text (or a pair of texts) as compared: where it is from, how it reads, its normalised form."""

    source: str
    text: str
    key: str  # the normalised text: equal keys are exact duplicates
    words: frozenset[str]  # what the Jaccard similarity compares: word bigrams (a pair's second text marked apart)


@dataclass(frozen=True)
class TaskTexts:
    """One task's (or extra set's) examples as texts: for each example, the tuple of its texts' tokens."""

    name: str  # a task, or "<task>@<corpus>" for an extra evaluation set
    texts_per_example: int  # 1, or 2 for a pair task
    splits: dict[str, list[tuple[str, tuple[list[str], ...]]]]  # split -> [(source, texts)]


class LeakageFound(MtlError):
    """leakage.action is fail and some task's evaluated texts occur in another task's train split."""


_PUNCTUATION = re.compile(r"[^\w\s]|_")  # punctuation and symbols


def normalise(tokens: list[str]) -> list[str]:
    """Lowercase words with punctuation removed ("Don't!" -> "dont"), empty ones dropped."""
    return _PUNCTUATION.sub("", " ".join(tokens).lower()).split()


def shingles(words: list[str], side: int = 0) -> set[str]:
    """The word bigrams of a text, its ends marked: what near-duplicates share. Bigrams, not single words, so
    that SICK's word-swap contrasts ("the dog chases the cat" / "the cat chases the dog") stay apart."""
    padded = ["\x02", *words, "\x03"]
    return {f"{a} {b}\x1f{side}" for a, b in zip(padded, padded[1:])}


def units(examples: list[tuple[str, tuple[list[str], ...]]], as_pairs: bool, min_tokens: int) -> list[Unit]:
    out = []
    for source, texts in examples:
        normalised = [normalise(text) for text in texts]
        parts = [range(len(texts))] if as_pairs else [[i] for i in range(len(texts))]
        for part in parts:
            words = [normalised[i] for i in part]
            if sum(map(len, words)) < min_tokens:
                continue
            out.append(Unit(source, " ||| ".join(" ".join(texts[i]) for i in part),
                            " ||| ".join(" ".join(side) for side in words),
                            frozenset().union(*(shingles(side, i) for i, side in enumerate(words)))))
    return out


class TrainIndex:
    """One task's train units: exact keys, and a prefix index for the near-duplicate join at `similarity`."""

    def __init__(self, train: list[Unit], similarity: float) -> None:
        self.similarity = similarity
        self.exact: dict[str, Unit] = {}
        for unit in train:
            self.exact.setdefault(unit.key, unit)
        self.units = list(self.exact.values())
        self.frequency = Counter(word for unit in self.units for word in unit.words)
        self.index: dict[str, list[int]] = defaultdict(list)
        for i, unit in enumerate(self.units):
            for word in self._prefix(unit.words):
                self.index[word].append(i)

    def _prefix(self, words: frozenset[str]) -> list[str]:
        ordered = sorted(words, key=lambda w: (self.frequency.get(w, 0), w))  # rarest first: short postings
        return ordered[: len(ordered) - math.ceil(self.similarity * len(ordered)) + 1]

    def nearest(self, unit: Unit) -> tuple[Unit, float] | None:
        """The most similar train unit at or above the threshold (not an exact duplicate), or None."""
        size = len(unit.words)
        best: tuple[Unit, float] | None = None
        seen: set[int] = set()
        for word in self._prefix(unit.words):
            for i in self.index.get(word, ()):
                if i in seen:
                    continue
                seen.add(i)
                other = self.units[i].words
                if not self.similarity * size <= len(other) <= size / self.similarity:
                    continue  # sizes too far apart to reach the threshold
                shared = len(unit.words & other)
                score = shared / (size + len(other) - shared)
                if score >= self.similarity and (best is None or score > best[1]):
                    best = (self.units[i], score)
        return best


def find_leakage(tasks: list[TaskTexts], config: LeakageConfig) -> dict:
    """Per evaluated task (or extra set), split and other task: its texts found in that task's train split.

    Returns {"config": ..., "pairs": [{evaluated, split, trained, unit, texts, exact, near, examples}, ...]} with
    a row for every combination (zeros included), extra sets against every task (their own included)."""
    indexes: dict[tuple[str, bool], TrainIndex] = {}
    evaluated_units: dict[tuple[str, str, bool], list[Unit]] = {}
    rows = []
    for evaluated in tasks:
        own = evaluated.name.split("@", 1)[0]
        for trained in tasks:
            if "@" in trained.name or (trained.name == own and "@" not in evaluated.name):
                continue  # within a task, validation's train_test_overlap checks it; extra sets are never trained
            as_pairs = evaluated.texts_per_example > 1 and trained.texts_per_example > 1
            if (trained.name, as_pairs) not in indexes:
                train = units(trained.splits.get("train", []), as_pairs, config.min_tokens)
                indexes[(trained.name, as_pairs)] = TrainIndex(train, config.similarity)
            index = indexes[(trained.name, as_pairs)]
            for split, examples in evaluated.splits.items():
                if split not in EVALUATED_SPLITS and "@" not in evaluated.name:
                    continue
                key = (evaluated.name, split, as_pairs)
                if key not in evaluated_units:
                    evaluated_units[key] = units(examples, as_pairs, config.min_tokens)
                rows.append(_compare(evaluated.name, split, trained.name, as_pairs, evaluated_units[key], index,
                                     config.examples))
    return {"config": config.model_dump(mode="json"), "pairs": rows}


def _compare(evaluated: str, split: str, trained: str, as_pairs: bool, found: list[Unit], index: TrainIndex,
             n_examples: int) -> dict:
    exact, near = [], []
    for unit in found:
        match = index.exact.get(unit.key)
        if match is not None:
            exact.append((unit, match, 1.0))
        elif (nearest := index.nearest(unit)) is not None:
            near.append((unit, *nearest))
    # the longest exact duplicates first (a leaked sentence, not a chance "I love it"), then the most similar
    worst = sorted(exact, key=lambda m: -len(m[0].key)) + sorted(near, key=lambda m: (-m[2], -len(m[0].key)))
    return {
        "evaluated": evaluated, "split": split, "trained": trained, "unit": "pair" if as_pairs else "text",
        "texts": len(found), "exact": len(exact), "near": len(near),
        "examples": [{"source": unit.source, "text": unit.text, "train_source": match.source,
                      "train_text": match.text, "similarity": round(score, 4)}
                     for unit, match, score in worst[:n_examples]],
    }


def leaking(report: dict) -> list[dict]:
    """The rows of a leakage report with any exact or near duplicate."""
    return [row for row in report["pairs"] if row["exact"] or row["near"]]


def describe(row: dict) -> str:
    """One line a person can act on: which texts of which task are in which task's train split."""
    line = (f"{row['evaluated']} {row['split']}: {row['exact']} exact and {row['near']} near-duplicate "
            f"{row['unit']}s of {row['texts']} in {row['trained']}'s train")
    if row["examples"]:
        first = row["examples"][0]
        line += f", e.g. {first['source']} {first['text'][:60]!r} ~ {first['train_source']}"
    return line


def to_markdown(report: dict) -> str:
    lines = ["| evaluated | split | in train of | compared | texts | exact | near-duplicates |",
             "|---|---|---|---|---:|---:|---:|"]
    for row in leaking(report):
        lines.append(f"| {row['evaluated']} | {row['split']} | {row['trained']} | {row['unit']}s | {row['texts']} "
                     f"| {row['exact']} | {row['near']} |")
    if len(lines) == 2:
        lines.append("| (none) | | | | | | |")
    return "\n".join(lines) + "\n"
