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

Bounded memory: nothing is indexed in memory. The evaluated texts (dev, test, extra sets) and then the train
splits stream, a piece at a time, into files (mtl/leakage/match.py: a row, the bigram ids and the hash and band
keys of each compared unit), which are joined on disk a bucket at a time (partitioned_join.py); what is kept
is the best match per evaluated text and trained task. The texts shown in the report are read back at the end
(`TextSource.fetch`).

What is compared is what the two tasks share: two pair tasks (entailment, relatedness) compare whole pairs,
otherwise each text of a pair is compared on its own. Texts shorter than `min_tokens` words are skipped.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mtl import minhash
from mtl.config import LeakageConfig
from mtl.errors import MtlError
from mtl.leakage.match import Match, UnitFile, Units, matches

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
    groups: list[tuple[TextSource, str]] = []  # (evaluated, split): an evaluated unit's owner
    streams: list[tuple[TextSource, bool]] = []  # (trained task, as pairs): a train unit's owner
    matched: dict[tuple[bool, str], dict[int, Match]] = {}
    described: dict[bool, dict[int, np.void]] = {}  # the evaluated units matched, by mode and number
    with tempfile.TemporaryDirectory(prefix="mtl-leakage-") as folder:
        evaluated_units = {as_pairs: UnitFile(Path(folder) / f"evaluated-{as_pairs}", bands) for as_pairs in (False, True)}
        train_units = {as_pairs: UnitFile(Path(folder) / f"train-{as_pairs}", bands) for as_pairs in (False, True)}
        for evaluated in sources:
            splits = [s for s in evaluated.split_names() if s in EVALUATED_SPLITS or "@" in evaluated.name]
            modes = {mode(evaluated, other) for other in trained if compared(evaluated, other)}
            for split in splits:
                groups.append((evaluated, split))
                for as_pairs in modes:
                    for batch in _pieces(evaluated.batches(split)):
                        evaluated_units[as_pairs].add(len(groups) - 1, units(batch, as_pairs, config.min_tokens))
        for other in trained:
            for as_pairs in sorted({mode(g[0], other) for g in groups if compared(g[0], other)}):
                streams.append((other, as_pairs))
                for batch in _pieces(other.batches("train")):
                    train_units[as_pairs].add(len(streams) - 1, units(batch, as_pairs, config.min_tokens))
        # per train stream and group of evaluated units: compared, in the stream's mode? (a pair task's texts are
        # indexed one by one for the tasks it compares so with, not for another pair task's texts stream)
        allowed = np.array([[compared(g[0], other) and mode(g[0], other) == as_pairs for g in groups]
                            for other, as_pairs in streams], bool).reshape(len(streams), len(groups))
        for as_pairs in (False, True):
            found = matches(evaluated_units[as_pairs], train_units[as_pairs], allowed, config.similarity)
            for (stream, unit), match in found.items():
                matched.setdefault((as_pairs, streams[stream][0].name), {})[unit] = match
            numbers = np.array(sorted({unit for _, unit in found}), np.int64)
            described[as_pairs] = dict(zip(numbers.tolist(), evaluated_units[as_pairs].units(numbers)))
    texts = {as_pairs: evaluated_units[as_pairs].per_owner for as_pairs in (False, True)}

    rows = []
    for evaluated in sources:
        for other in trained:
            if not compared(evaluated, other):
                continue
            for g, (source, split) in enumerate(groups):
                if source is evaluated:
                    as_pairs = mode(evaluated, other)
                    rows.append(_row(g, split, other, as_pairs, texts[as_pairs][g], described[as_pairs],
                                     matched.get((as_pairs, other.name), {}), groups, config.examples))
    _fill_examples(rows, groups, {s.name: s for s in trained})
    return {"config": config.model_dump(mode="json"), "pairs": rows}


def _pieces(batches: Iterator[list[Example]]) -> Iterator[list[Example]]:
    """Batches cut to _PIECE examples: the band keys' temporary matrices grow with the batch."""
    for batch in batches:
        for start in range(0, len(batch), _PIECE):
            yield batch[start:start + _PIECE]


def _row(group: int, split: str, trained: TextSource, as_pairs: bool, texts: int, described: dict[int, np.void],
         found: dict[int, Match], groups: list, n_examples: int) -> dict:
    hits = sorted((u, m) for u, m in found.items() if described[u]["owner"] == group)
    exact = sorted((h for h in hits if h[1].exact), key=lambda h: -described[h[0]]["key_length"])  # stable: by unit
    near = sorted((h for h in hits if not h[1].exact), key=lambda h: (-h[1].score, -described[h[0]]["key_length"]))
    # the longest exact duplicates first (a leaked sentence, not a chance "I love it"), then the most similar
    worst = (exact + near)[:n_examples]
    return {
        "evaluated": groups[group][0].name, "split": split, "trained": trained.name,
        "unit": "pair" if as_pairs else "text", "texts": texts, "exact": len(exact), "near": len(near),
        "examples": [{"_evaluated": (group, int(described[u]["position"]), int(described[u]["part"])),
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
