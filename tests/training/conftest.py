"""A tiny synthetic unified dataset (the real format: the task kinds' columns, labels.json) and tiny params.

Four tasks by default (two tagging, two classification), or six with `pairs=True`: a sentence-pair
classification (entailment) and a pair regression (relatedness), each learnable from a few dozen examples.
"""

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
ENTAILMENT = ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"]

TASKS = {  # labels.json's format: kind, labels, the kind's options
    "pos": {"kind": "tagging", "labels": ["DET", "NOUN", "VERB", "PROPN"], "options": {"scheme": "none", "crf": True}},
    "ner": {"kind": "tagging", "labels": ["O", "B-ent", "I-ent"], "options": {"scheme": "bio", "crf": True}},
    "sentiment": {"kind": "classification", "labels": ["0", "1"], "options": {}},
    "question": {"kind": "classification", "labels": sorted(QUESTIONS.values()), "options": {}},
}
PAIR_TASKS = {
    "entailment": {"kind": "pair_classification", "labels": ENTAILMENT, "options": {}},
    "relatedness": {"kind": "regression", "labels": [], "options": {"texts": 2, "range": [1.0, 5.0]}},
}


def _pos(rng: random.Random) -> dict:
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
    return {"tokens": tokens, "tags": tags}


def _ner(rng: random.Random) -> dict:
    tokens, tags = [], []
    for _ in range(rng.randint(2, 10)):
        if rng.random() < 0.25:
            span = rng.sample(NAMES, rng.randint(1, 2))
            tokens += span
            tags += ["B-ent"] + ["I-ent"] * (len(span) - 1)
        else:
            tokens.append(rng.choice(NOUNS + VERBS + DETS))
            tags.append("O")
    return {"tokens": tokens, "tags": tags}


def _sentiment(rng: random.Random) -> dict:
    label = rng.choice("01")
    tokens = [rng.choice(DETS), rng.choice(NOUNS), "is", rng.choice(GOOD if label == "1" else BAD)]
    return {"tokens": tokens + [rng.choice(NOUNS) for _ in range(rng.randint(0, 6))], "label": label}


def _question(rng: random.Random) -> dict:
    word = rng.choice(sorted(QUESTIONS))
    return {"tokens": [word, *(rng.choice(NOUNS + VERBS) for _ in range(rng.randint(1, 8))), "?"],
            "label": QUESTIONS[word]}


def _pair(rng: random.Random) -> tuple[list[str], list[str], str, float]:
    """A premise and a hypothesis: the same clause (entailment), another noun (neutral) or negated
    (contradiction); relatedness falls with each change."""
    noun, verb = rng.choice(NOUNS), rng.choice(VERBS)
    premise = [rng.choice(DETS), noun, verb, rng.choice(NOUNS)]
    label = rng.choice(ENTAILMENT)
    if label == "ENTAILMENT":
        hypothesis, score = [premise[0], noun, verb], 4.5
    elif label == "NEUTRAL":
        hypothesis, score = [premise[0], rng.choice([n for n in NOUNS if n != noun]), verb], 3.0
    else:
        hypothesis, score = [premise[0], noun, "not", verb], 1.5
    return premise, hypothesis, label, score + rng.uniform(-0.4, 0.4)


def _entailment(rng: random.Random) -> dict:
    premise, hypothesis, label, _ = _pair(rng)
    return {"tokens": premise, "tokens_b": hypothesis, "label": label}


def _relatedness(rng: random.Random) -> dict:
    premise, hypothesis, _, score = _pair(rng)
    return {"tokens": premise, "tokens_b": hypothesis, "score": round(score, 3)}


MAKERS = {"pos": _pos, "ner": _ner, "sentiment": _sentiment, "question": _question, "entailment": _entailment,
          "relatedness": _relatedness}
COLUMNS = ["uid", "task", "split", "source", "label", "score", "tags", "tokens", "tokens_b"]


def make_rows(split: str, n: int, seed: int, tasks: dict) -> list[dict]:
    rng = random.Random(f"{seed}-{split}")
    rows = []
    for task in tasks:
        for i in range(n):
            fields = MAKERS[task](rng)
            rows.append({"uid": f"{task}-{split}-{i}", "task": task, "split": split, "source": f"synthetic/{task}:{i}",
                         **{column: fields.get(column) for column in COLUMNS[4:]}})
    return rows


def task_set(pairs: bool = False) -> dict:
    return {**TASKS, **(PAIR_TASKS if pairs else {})}


def write_unified(folder: Path, n_train: int = 48, n_eval: int = 16, seed: int = 0, pairs: bool = False) -> Path:
    """train/dev/test.parquet and labels.json with n examples per task and split."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = task_set(pairs)
    for split, n in (("train", n_train), ("dev", n_eval), ("test", n_eval)):
        frame = pd.DataFrame(make_rows(split, n, seed, tasks), columns=COLUMNS)
        frame["score"] = frame["score"].astype("float64")
        frame.to_parquet(folder / f"{split}.parquet", index=False)
    (folder / "labels.json").write_text(json.dumps(tasks), encoding="utf-8")
    return folder


def params_tasks(pairs: bool = False) -> dict:
    """The tasks section of params for the synthetic tasks, with the stand-in corpora and gate entries every
    task needs (no file is read: the dataset is written directly)."""
    tasks = task_set(pairs)
    return {
        "corpora": {f"corpus_{name}": {"task": name, "format": "jsonl",
                                       "files": {"train": {"path": f"{name}.jsonl", "sha256": "0" * 64}}}
                    for name in tasks},
        "tasks": {name: {"kind": t["kind"], "labels": t["labels"] or None, **t["options"]} for name, t in tasks.items()},
        "gate": {"tasks": {name: {"floor": 0.0, "max_drop": 1.0} for name in tasks}},
    }


def tiny_params(model: dict | None = None, pairs: bool = False, **training) -> Params:
    """Every knob small: a run of a few dozen steps takes a second or two on one thread."""
    model = model or {}
    sections = {key: model.pop(key) for key in ("bilstm", "transformer", "pretrained", "words") if key in model}
    return Params.model_validate(
        {
            **params_tasks(pairs),
            "model": {"sharing": "hard", **model,
                      "words": {"dim": 16, "char_dim": 8, "char_filters": 8, "min_count": 1, **sections.pop("words", {})},
                      "bilstm": {"hidden_size": 16, **sections.pop("bilstm", {})},
                      **sections},
            "training": {
                "device": "cpu",
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
                "max_minutes": None,
                "loss_weights": {},
                **training,
            },
        }
    )


@pytest.fixture(scope="session")
def unified_dir(tmp_path_factory) -> Path:
    return write_unified(tmp_path_factory.mktemp("unified"))


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory) -> Path:
    """The six-task dataset: the four tasks and two sentence-pair tasks."""
    return write_unified(tmp_path_factory.mktemp("unified-pairs"), pairs=True)


@pytest.fixture(name="tiny_params")
def tiny_params_fixture():
    """tiny_params(model={...overrides}, pairs=False, **training overrides) -> Params."""
    return tiny_params
