"""Cross-task leakage: the texts of one task's dev or test split (or of an extra evaluation set) that occur in
another task's train split.

A multi-task model trains its shared encoder on every task's train split, so a sentence that is in POS's train
and NER's test was seen by the encoder before NER is scored on it. Within one task, validation's
train_test_overlap check finds this; across tasks only the unified dataset shows it, so unify runs this check.

Texts are compared normalised: lowercased, punctuation dropped, whitespace collapsed. Exact: the normalised
texts are equal (compared as 64-bit hashes). Near-duplicate: not exact, and the Jaccard similarity of the two
texts' word-bigram sets is at least `similarity` (bigrams keep word order: a word-swap contrast is a different
sentence). Candidates are found by MinHash LSH (mtl/minhash.py: a pair at the threshold is missed with chance
under 1e-3, a more similar one less often) and every candidate's Jaccard is computed exactly, so no pair below
the threshold is ever reported.

Bounded memory: the evaluated texts (dev, test, extra sets: the small side) are indexed as numpy arrays (a hash,
band keys and bigram ids per text, a few dozen bytes each); the train splits stream past that index batch by
batch, and only the best match per evaluated text and trained task is kept. The texts shown in the report are
read back at the end (`TextSource.fetch`).

What is compared is what the two tasks share: two pair tasks (entailment, relatedness) compare whole pairs,
otherwise each text of a pair is compared on its own. Texts shorter than `min_tokens` words are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mtl import minhash
from mtl.config import LeakageConfig
from mtl.errors import MtlError

EVALUATED_SPLITS = ("dev", "test")
_PIECE = 2048  # examples hashed and probed at a time (see _pieces)

Texts = tuple[list[str], ...]  # an example's texts: (tokens,) or (tokens, tokens_b)
Example = tuple[int, str, Texts]  # (position in its split, for fetch; source "corpus/file:line"; texts)


class TextSource(Protocol):
    """One task's (or extra set's) examples, split by split, streamed in a fixed order."""

    name: str  # a task, or "<task>@<corpus>" for an extra evaluation set
    texts_per_example: int  # 1, or 2 for a pair task

    def split_names(self) -> list[str]: ...

    def batches(self, split: str) -> Iterator[list[Example]]: ...

    def fetch(self, split: str, positions: set[int]) -> dict[int, tuple[str, Texts]]: ...


@dataclass(frozen=True)
class TaskTexts:
    """A TextSource held in memory (tests, small inputs): split -> [(source, texts)]."""

    name: str
    texts_per_example: int
    splits: dict[str, list[tuple[str, Texts]]]

    def split_names(self) -> list[str]:
        return list(self.splits)

    def batches(self, split: str) -> Iterator[list[Example]]:
        yield [(i, source, texts) for i, (source, texts) in enumerate(self.splits.get(split, []))]

    def fetch(self, split: str, positions: set[int]) -> dict[int, tuple[str, Texts]]:
        return {i: self.splits[split][i] for i in positions}


class LeakageFound(MtlError):
    """leakage.action is fail and some task's evaluated texts occur in another task's train split."""


_PUNCTUATION = re.compile(r"[^\w\s]|_")  # punctuation and symbols


def normalise(tokens: list[str]) -> list[str]:
    """Lowercase words with punctuation removed ("Don't!" -> "dont"), empty ones dropped."""
    return _PUNCTUATION.sub("", " ".join(tokens).lower()).split()


@dataclass
class Units:
    """A batch of compared units as arrays: where each is from, its exact-text hash, its bigram ids."""

    positions: list[int] = field(default_factory=list)
    parts: list[int] = field(default_factory=list)  # which text of the example; -1: the whole pair
    hashes: list[int] = field(default_factory=list)
    key_lengths: list[int] = field(default_factory=list)
    sides: list[list[list[str]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)


def units(examples: list[Example], as_pairs: bool, min_tokens: int) -> Units:
    """The units compared: a whole pair, or each text on its own; those under min_tokens words left out."""
    out = Units()
    for position, _, texts in examples:
        normalised = [normalise(text) for text in texts]
        for part in ([range(len(texts))] if as_pairs else [[i] for i in range(len(texts))]):
            sides = [normalised[i] for i in part]
            if sum(map(len, sides)) < min_tokens:
                continue
            key = " ||| ".join(" ".join(side) for side in sides)
            out.positions.append(position)
            out.parts.append(-1 if as_pairs else part[0])
            out.hashes.append(minhash.text_hash(key))
            out.key_lengths.append(len(key))
            out.sides.append(sides)
    return out


def unit_text(texts: Texts, part: int) -> str:
    return " ||| ".join(" ".join(text) for text in (texts if part < 0 else [texts[part]]))


class EvaluatedIndex:
    """Every evaluated unit of one comparison mode (pairs or texts): group (evaluated, split), position, hash,
    band keys and bigram ids (uint32: a chance collision inside one pair of texts is ~1e-8), as arrays."""

    def __init__(self, bands: minhash.Bands) -> None:
        self.bands = bands
        self._columns: list[list[np.ndarray]] = [[] for _ in range(8)]  # one list per column: freed one at a time

    def add(self, group: int, batch: Units) -> None:
        if not len(batch):
            return
        ids, offsets = minhash.shingles(batch.sides)
        for column, values in zip(self._columns, (
                np.full(len(batch), group, np.int32), np.array(batch.positions, np.int64),
                np.array(batch.parts, np.int8), np.array(batch.hashes, np.uint64),
                np.array(batch.key_lengths, np.int32), self.bands.keys(ids, offsets), ids.astype(np.uint32),
                np.diff(offsets).astype(np.int32))):
            column.append(values)

    def freeze(self) -> None:
        """Concatenate the batches column by column (so the peak is the index plus one column, not twice the index)
        and sort the lookup columns; per unit about 8 x bands + 50 bytes and 4 bytes a bigram (int32 positions in
        the index: fewer than 2^31 evaluated units)."""
        empty = (np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.uint64),
                 np.zeros(0, np.int32), np.zeros((0, self.bands.bands), np.uint32), np.zeros(0, np.uint32),
                 np.zeros(0, np.int32))
        columns = []
        for column, default in zip(self._columns, empty):
            columns.append(np.concatenate(column) if column else default)
            column.clear()
        self.group, self.position, self.part, hashes, self.key_length, keys, self.ids, self.sizes = columns
        del columns
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes, dtype=np.int64)])
        self.hash_order = np.argsort(hashes, kind="stable").astype(np.int32)
        self.sorted_hash = hashes[self.hash_order]
        del hashes
        self.band_order, self.sorted_bands = [], []
        for j in range(keys.shape[1]):
            order = np.argsort(keys[:, j], kind="stable").astype(np.int32)
            self.band_order.append(order)
            self.sorted_bands.append(keys[order, j])
        del keys

    def __len__(self) -> int:
        return len(self.group)

    def bigrams(self, unit: int) -> set[int]:
        return set(self.ids[self.offsets[unit]:self.offsets[unit + 1]].tolist())


def _equal_pairs(sorted_values: np.ndarray, order: np.ndarray, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probe index, indexed unit) for every probe value equal to an indexed value."""
    lo = np.searchsorted(sorted_values, probes, side="left")
    hi = np.searchsorted(sorted_values, probes, side="right")
    counts = hi - lo
    probe = np.repeat(np.arange(len(probes)), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    return probe, order[starts + np.arange(len(probe))]


@dataclass
class Match:
    exact: bool
    score: float
    train_position: int
    train_part: int


def find_leakage(sources: list[TextSource], config: LeakageConfig) -> dict:
    """Per evaluated task (or extra set), split and other task: its texts found in that task's train split.

    Returns {"config": ..., "pairs": [{evaluated, split, trained, unit, texts, exact, near, examples}, ...]} with
    a row for every combination (zeros included), extra sets against every task (their own included)."""
    trained = [s for s in sources if "@" not in s.name]

    def compared(evaluated: TextSource, other: TextSource) -> bool:
        # within a task, validation's train_test_overlap checks it; extra sets are never trained
        return "@" in evaluated.name or evaluated.name != other.name

    def mode(a: TextSource, b: TextSource) -> bool:
        return a.texts_per_example > 1 and b.texts_per_example > 1

    bands = minhash.Bands.for_threshold(config.similarity)
    indexes = {as_pairs: EvaluatedIndex(bands) for as_pairs in (False, True)}
    groups: list[tuple[TextSource, str]] = []
    for evaluated in sources:
        splits = [s for s in evaluated.split_names() if s in EVALUATED_SPLITS or "@" in evaluated.name]
        modes = {mode(evaluated, other) for other in trained if compared(evaluated, other)}
        for split in splits:
            groups.append((evaluated, split))
            for as_pairs in modes:
                index = indexes[as_pairs]
                for batch in _pieces(evaluated.batches(split)):
                    index.add(len(groups) - 1, units(batch, as_pairs, config.min_tokens))
    for index in indexes.values():
        index.freeze()

    matches: dict[tuple[bool, str], dict[int, Match]] = {}
    for other in trained:
        allowed = np.array([compared(g[0], other) for g in groups] + [False])  # per group: compared with `other`?
        for as_pairs in {mode(g[0], other) for g in groups if compared(g[0], other)}:
            found = matches.setdefault((as_pairs, other.name), {})
            for batch in _pieces(other.batches("train")):
                _probe(indexes[as_pairs], allowed, units(batch, as_pairs, config.min_tokens), found, config.similarity)

    rows = []
    for evaluated in sources:
        for other in trained:
            if not compared(evaluated, other):
                continue
            for g, (source, split) in enumerate(groups):
                if source is evaluated:
                    as_pairs = mode(evaluated, other)
                    rows.append(_row(g, split, other, as_pairs, indexes[as_pairs], matches.get((as_pairs, other.name), {}),
                                     groups, config.examples))
    _fill_examples(rows, groups, {s.name: s for s in trained})
    return {"config": config.model_dump(mode="json"), "pairs": rows}


def _pieces(batches: Iterator[list[Example]]) -> Iterator[list[Example]]:
    """Batches cut to _PIECE examples: a probe's candidate arrays grow with the batch times the index's bucket
    sizes, so with a 10x index full row groups (16,384 rows) took 250 MB above the index."""
    for batch in batches:
        for start in range(0, len(batch), _PIECE):
            yield batch[start:start + _PIECE]


def _probe(index: EvaluatedIndex, allowed: np.ndarray, batch: Units, found: dict[int, Match], similarity: float
           ) -> None:
    """Match a batch of train units against the evaluated index: exact hashes, then LSH candidates verified by
    their exact Jaccard; each evaluated unit keeps its first exact match, else its most similar one."""
    if not len(batch) or not len(index):
        return
    hashes = np.array(batch.hashes, np.uint64)
    probe, unit = _equal_pairs(index.sorted_hash, index.hash_order, hashes)
    exact = set(zip(probe.tolist(), unit.tolist()))
    for p, u in sorted(exact):
        if allowed[index.group[u]] and not (u in found and found[u].exact):
            found[u] = Match(True, 1.0, batch.positions[p], batch.parts[p])
    ids, offsets = minhash.shingles(batch.sides)
    keys = index.bands.keys(ids, offsets)
    pairs = [_equal_pairs(index.sorted_bands[j], index.band_order[j], keys[:, j]) for j in range(keys.shape[1])]
    probe = np.concatenate([p for p, _ in pairs])
    unit = np.concatenate([u for _, u in pairs])
    if not len(probe):
        return
    combined = np.unique(probe.astype(np.int64) * len(index) + unit)  # one candidate per pair, in train order
    probe, unit = combined // len(index), combined % len(index)
    sizes = np.diff(offsets)
    keep = allowed[index.group[unit]] & (index.sizes[unit] >= similarity * sizes[probe]) & \
        (sizes[probe] >= similarity * index.sizes[unit])  # sizes too far apart cannot reach the threshold
    truncated = ids.astype(np.uint32)
    for p, u in zip(probe[keep].tolist(), unit[keep].tolist()):
        if (p, u) in exact or (u in found and found[u].exact):
            continue  # exact: counted above
        mine = set(truncated[offsets[p]:offsets[p + 1]].tolist())
        theirs = index.bigrams(u)
        shared = len(mine & theirs)
        score = shared / (len(mine) + len(theirs) - shared)
        if score >= similarity and (u not in found or score > found[u].score):
            found[u] = Match(False, score, batch.positions[p], batch.parts[p])


def _row(group: int, split: str, trained: TextSource, as_pairs: bool, index: EvaluatedIndex,
         found: dict[int, Match], groups: list, n_examples: int) -> dict:
    hits = sorted((u, m) for u, m in found.items() if index.group[u] == group)
    exact = sorted((h for h in hits if h[1].exact), key=lambda h: -index.key_length[h[0]])  # stable: index order
    near = sorted((h for h in hits if not h[1].exact), key=lambda h: (-h[1].score, -index.key_length[h[0]]))
    # the longest exact duplicates first (a leaked sentence, not a chance "I love it"), then the most similar
    worst = (exact + near)[:n_examples]
    return {
        "evaluated": groups[group][0].name, "split": split, "trained": trained.name,
        "unit": "pair" if as_pairs else "text", "texts": int(np.count_nonzero(index.group == group)), "exact": len(exact), "near": len(near),
        "examples": [{"_evaluated": (group, int(index.position[u]), int(index.part[u])),
                      "_trained": (trained.name, m.train_position, m.train_part), "similarity": round(m.score, 4)}
                     for u, m in worst],
    }


def _fill_examples(rows: list[dict], groups: list, trained: dict[str, TextSource]) -> None:
    """Read back the few texts the report shows (the index keeps positions, not texts)."""
    wanted_evaluated: dict[int, set[int]] = {}
    wanted_trained: dict[str, set[int]] = {}
    for row in rows:
        for example in row["examples"]:
            wanted_evaluated.setdefault(example["_evaluated"][0], set()).add(example["_evaluated"][1])
            wanted_trained.setdefault(example["_trained"][0], set()).add(example["_trained"][1])
    evaluated_texts = {g: groups[g][0].fetch(groups[g][1], positions) for g, positions in wanted_evaluated.items()}
    trained_texts = {name: trained[name].fetch("train", positions) for name, positions in wanted_trained.items()}
    for row in rows:
        filled = []
        for example in row["examples"]:
            (g, position, part), (name, train_position, train_part) = example["_evaluated"], example["_trained"]
            source, texts = evaluated_texts[g][position]
            train_source, train_texts = trained_texts[name][train_position]
            filled.append({"source": source, "text": unit_text(texts, part), "train_source": train_source,
                           "train_text": unit_text(train_texts, train_part), "similarity": example["similarity"]})
        row["examples"] = filled


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
