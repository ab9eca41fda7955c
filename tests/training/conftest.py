"""A tiny synthetic unified dataset (the lead's format) and tiny training params."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from mtl.config import Params

NOUNS = ["cat", "dog", "car", "tree", "house", "book", "river", "phone"]
VERBS = ["runs", "sees", "eats", "likes", "finds", "takes"]
DETS = ["the", "a", "this", "every"]
NAMES = ["Alice", "Bob", "Paris", "Oslo", "Nokia", "Tesla"]
GOOD, BAD = ["great", "lovely", "fine", "superb"], ["awful", "bad", "dull", "poor"]
QUESTIONS = {"what": "DESC", "who": "HUM", "where": "LOC", "how": "NUM"}

TASKS = {
    "pos": {"kind": "tagging", "labels": ["DET", "NOUN", "VERB", "PROPN"], "scheme": "none"},
    "ner": {"kind": "tagging", "labels": ["O", "B-ent", "I-ent"], "scheme": "bio"},
    "sentiment": {"kind": "classification", "labels": ["0", "1"], "scheme": "none"},
    "question": {"kind": "classification", "labels": sorted(QUESTIONS.values()), "scheme": "none"},
}


def _pos(rng: random.Random) -> tuple[list[str], list[str]]:
    tokens, tags = [], []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.3:
            tokens += [rng.choice(NAMES)]
            tags += ["PROPN"]
        else:
            tokens += [rng.choice(DETS), rng.choice(NOUNS)]
            tags += ["DET", "NOUN"]
        tokens += [rng.choice(VERBS)]
        tags += ["VERB"]
    return tokens, tags


def _ner(rng: random.Random) -> tuple[list[str], list[str]]:
    tokens, tags = [], []
    for _ in range(rng.randint(2, 10)):
        if rng.random() < 0.25:
            span = rng.sample(NAMES, rng.randint(1, 2))
            tokens += span
            tags += ["B-ent"] + ["I-ent"] * (len(span) - 1)
        else:
            tokens.append(rng.choice(NOUNS + VERBS + DETS))
            tags.append("O")
    return tokens, tags


def make_rows(split: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}-{split}")
    rows = []
    for task in TASKS:
        for i in range(n):
            tags, label = [], None
            if task == "pos":
                tokens, tags = _pos(rng)
            elif task == "ner":
                tokens, tags = _ner(rng)
            elif task == "sentiment":
                label = rng.choice("01")
                tokens = [rng.choice(DETS), rng.choice(NOUNS), "is", rng.choice(GOOD if label == "1" else BAD)]
                tokens += [rng.choice(NOUNS) for _ in range(rng.randint(0, 6))]
            else:
                word = rng.choice(sorted(QUESTIONS))
                label = QUESTIONS[word]
                tokens = [word, *(rng.choice(NOUNS + VERBS) for _ in range(rng.randint(1, 8))), "?"]
            rows.append({"uid": f"{task}-{split}-{i}", "task": task, "split": split, "tokens": tokens,
                         "tags": tags, "label": label, "source": f"synthetic/{task}:{i}"})
    return rows


def write_unified(folder: Path, n_train: int = 48, n_eval: int = 16, seed: int = 0) -> Path:
    """train/dev/test.parquet and labels.json with n examples per task and split."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("dev", n_eval), ("test", n_eval)):
        pd.DataFrame(make_rows(split, n, seed)).to_parquet(folder / f"{split}.parquet", index=False)
    (folder / "labels.json").write_text(json.dumps(TASKS), encoding="utf-8")
    return folder


def tiny_params(model: dict | None = None, **training) -> Params:
    """Every knob small: a run of a few dozen steps takes a second or two on one thread."""
    return Params.model_validate(
        {
            "corpora": {},
            "tasks": {name: {"kind": t["kind"], "scheme": t["scheme"]} for name, t in TASKS.items()},
            "model": {"word_dim": 16, "char_dim": 8, "char_filters": 8, "hidden_size": 16, "min_word_count": 1,
                      **(model or {})},
            "training": {
                "threads": 1,
                "batch_size": 8,
                "batch_unit": "sentences",
                "pool_size": 32,
                "lr": 0.03,
                "warmup_steps": 5,
                "max_steps": 40,
                "eval_every": 10,
                "checkpoint_every": 10,
                "patience": 100,
                "progress": False,
                "max_minutes": None,
                **training,
            },
        }
    )


@pytest.fixture(scope="session")
def unified_dir(tmp_path_factory) -> Path:
    return write_unified(tmp_path_factory.mktemp("unified"))


@pytest.fixture(name="tiny_params")
def tiny_params_fixture():
    """tiny_params(model={...overrides}, **training overrides) -> Params."""
    return tiny_params
