"""A small evaluated candidate with a history, built through the real stages in one process: corpora written as
JSONL (five tasks, one of each kind) and one CoNLL extra evaluation set with another NER scheme, then ingest,
unify, train, evaluate, gate and promote (v0001); then more sentiment data with another label balance and new
words, and ingest, unify, train, evaluate and gate again (drift against v0001), and the report.

What the report, extra-set, leakage and drift tests look at; built once per test session (build_once).
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass
from pathlib import Path

from mtl.config import Params

NAMES, PLACES, FIRMS = ["Alice", "Bob", "Carol"], ["Paris", "Oslo", "Lima"], ["Nokia", "Tesla"]
NOUNS, VERBS, DETS = ["cat", "dog", "car", "tree", "book"], ["sees", "likes", "finds", "takes"], ["the", "a", "this"]
GOOD, BAD, NEW_GOOD = ["great", "lovely", "fine"], ["awful", "bad", "dull"], ["splendid", "marvellous", "superb"]
ENTAILMENT = ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"]
LEAKED = ["the", "dog", "finds", "the", "book", "today"]  # in sentiment's train and in pos's test: a planted leak

TASKS = {
    "pos": {"kind": "tagging", "labels": ["DET", "NOUN", "VERB", "PROPN", "ADV"]},
    "ner": {"kind": "tagging", "scheme": "bio", "labels": ["O", "B-person", "I-person", "B-location", "I-location"]},
    "sentiment": {"kind": "classification", "labels": ["negative", "positive"]},
    "entailment": {"kind": "pair_classification", "labels": ENTAILMENT},
    "relatedness": {"kind": "regression", "texts": 2, "range": [1, 5]},
}
EXTRA = "conll_ner"  # the extra evaluation set: PER/LOC/MISC, mapped onto ner's person/location, MISC dropped
EXTRA_MAP = {"PER": "person", "LOC": "location", "MISC": None}


def _pos(rng: random.Random) -> dict:
    tokens, tags = [], []
    for _ in range(rng.randint(1, 3)):
        subject = [rng.choice(NAMES)] if rng.random() < 0.3 else [rng.choice(DETS), rng.choice(NOUNS)]
        tokens += subject + [rng.choice(VERBS)]
        tags += (["PROPN"] if len(subject) == 1 else ["DET", "NOUN"]) + ["VERB"]
    return {"tokens": tokens, "tags": tags}


def _ner(rng: random.Random, person: str = "person", location: str = "location") -> dict:
    tokens, tags = [], []
    for _ in range(rng.randint(3, 8)):
        roll = rng.random()
        if roll < 0.2:
            tokens.append(rng.choice(NAMES))
            tags.append(f"B-{person}")
        elif roll < 0.35:
            tokens += ["in", rng.choice(PLACES)]
            tags += ["O", f"B-{location}"]
        else:
            tokens.append(rng.choice(NOUNS + VERBS + DETS))
            tags.append("O")
    return {"tokens": tokens, "tags": tags}


def _sentiment(rng: random.Random, positive_share: float = 0.5, good: list[str] = GOOD) -> dict:
    positive = rng.random() < positive_share
    tokens = [rng.choice(DETS), rng.choice(NOUNS), "is", rng.choice(good if positive else BAD)]
    return {"tokens": tokens + [rng.choice(NOUNS) for _ in range(rng.randint(0, 4))],
            "label": "positive" if positive else "negative"}


SCORES = {"ENTAILMENT": 4.5, "NEUTRAL": 3.0, "CONTRADICTION": 1.5}  # relatedness falls with each change


def _pair(rng: random.Random, scored: bool) -> dict:
    """A premise and a hypothesis (the same clause, another noun, or negated): its entailment label, or its
    relatedness score."""
    noun, verb = rng.choice(NOUNS), rng.choice(VERBS)
    premise = [rng.choice(DETS), noun, verb, rng.choice(NOUNS)]
    label = rng.choice(ENTAILMENT)
    other = rng.choice([n for n in NOUNS if n != noun])
    hypothesis = {"ENTAILMENT": [premise[0], noun, verb], "NEUTRAL": [premise[0], other, verb],
                  "CONTRADICTION": [premise[0], noun, "not", verb]}[label]
    target = round(SCORES[label] + rng.uniform(-0.4, 0.4), 3) if scored else label
    return {"tokens": premise, "tokens_b": hypothesis, "label": target}


MAKERS = {"pos": _pos, "ner": _ner, "sentiment": _sentiment, "entailment": lambda rng: _pair(rng, scored=False),
          "relatedness": lambda rng: _pair(rng, scored=True)}
SIZES = {"train": 60, "dev": 20, "test": 30}


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_corpora(raw: Path, seed: int = 0) -> None:
    """corpus_<task>/<split>.jsonl for every task, and the extra set's CoNLL test file."""
    for task, make in MAKERS.items():
        for split, n in SIZES.items():
            rng = random.Random(f"{seed}-{task}-{split}")
            rows = [make(rng) for _ in range(n)]
            if (task, split) == ("sentiment", "train"):
                rows.append({"tokens": LEAKED, "label": "positive"})
            if (task, split) == ("pos", "test"):
                rows.append({"tokens": LEAKED, "tags": ["DET", "NOUN", "VERB", "DET", "NOUN", "ADV"]})
            write_jsonl(raw / f"corpus_{task}" / f"{split}.jsonl", rows)
    rng = random.Random(f"{seed}-extra")
    blocks = []
    for _ in range(40):
        row = _ner(rng, person="PER", location="LOC")
        if rng.random() < 0.3:  # a firm: MISC in this scheme, no counterpart in ner's
            row["tokens"].append(rng.choice(FIRMS))
            row["tags"].append("B-MISC")
        blocks.append("".join(f"{token}\t{tag}\n" for token, tag in zip(row["tokens"], row["tags"])))
    (raw / EXTRA).mkdir(parents=True, exist_ok=True)
    (raw / EXTRA / "test.conll").write_text("\n".join(blocks), encoding="utf-8")


def append_sentiment(raw: Path, n: int = 120, seed: int = 1) -> None:
    """More sentiment train data, mostly positive and with words the first data never had: drift."""
    path = raw / "corpus_sentiment" / "train.jsonl"
    rng = random.Random(f"{seed}-more")
    rows = [_sentiment(rng, positive_share=0.9, good=NEW_GOOD) for _ in range(n)]
    path.write_text(path.read_text(encoding="utf-8") + "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def candidate_params(root: Path, **overrides: dict) -> Params:
    corpora = {f"corpus_{task}": {"task": task, "format": "jsonl",
                                  "files": {split: {"path": f"{split}.jsonl", "sha256": "0" * 64} for split in SIZES}}
               for task in TASKS}
    corpora[EXTRA] = {"task": "ner", "format": "conll", "options": {"separator": "tab"},
                      "files": {"test": {"path": "test.conll", "sha256": "0" * 64}}}
    open_gate = {"floor": -1.0, "max_drop": 2.0}  # every candidate passes: these runs are about what is shown
    sections = {
        "root": root,
        "corpora": corpora,
        "tasks": TASKS,
        "validation": {"max_quarantine_fraction": 0.2},
        "model": {"sharing": "hard", "words": {"dim": 16, "char_dim": 8, "char_filters": 8, "min_count": 1},
                  "bilstm": {"hidden_size": 16, "layers": 1}},
        "training": {"device": "cpu", "threads": 1, "batch_size": 8, "batch_unit": "sentences", "pool_size": 32,
                     "lr": 0.03, "warmup_steps": 5, "max_steps": 40, "eval_every": 20, "checkpoint_every": 40,
                     "loss_weights": {}, "max_minutes": None, "sampler": {"window": 10}},
        "evaluation": {"n_bootstrap": 100, "extra": {EXTRA: {"labels": EXTRA_MAP}}},
        "gate": {"min_examples": 1, "inconclusive": "allow", "n_bootstrap": 200,
                 "tasks": {task: open_gate for task in TASKS}, "extra": {EXTRA: open_gate}},
        "registry": {"uri": "registry"},
    }
    for key, value in overrides.items():
        sections[key] = {**sections.get(key, {}), **value}
    return Params.model_validate(sections)


@dataclass(frozen=True)
class Built:
    params: Params
    first: dict  # the first round's gate decision (no production yet)
    second: dict  # the second round's gate decision (against v0001)
    report: Path


def build(root: Path) -> Built:
    from mtl.dataset import unify
    from mtl.ingest import ingest
    from mtl.report import write_report
    from mtl.stages.evaluate import evaluate_candidate
    from mtl.stages.gate import gate_candidate
    from mtl.stages.promote import promote_candidate
    from mtl.training import train

    params = candidate_params(root)
    write_corpora(params.raw_dir)

    def round_of(corpora: list[str]) -> dict:
        for name in corpora:
            ingest(name, params)
        unify(params)
        train(params, data_dir=params.unified_dir, out_dir=params.run_dir)
        evaluate_candidate(params)
        return gate_candidate(params)

    first = round_of(list(params.corpora))
    promote_candidate(params, reason="first candidate")
    append_sentiment(params.raw_dir)
    second = round_of(["corpus_sentiment"])
    return Built(params, first, second, write_report(params))


@functools.cache
def build_once(root: Path) -> Built:
    """One build per process for a given folder: the test modules that share it pass the same folder."""
    root.mkdir(parents=True, exist_ok=True)
    return build(root)
