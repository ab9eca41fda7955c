"""A tiny in-memory model over four tasks (two tagging, one with a CRF-ready BIO set, two classification)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mtl.config import ModelConfig
from mtl.model import MultiTaskModel, build_model, build_vocab, load_model, predict, save_model

SENTENCES = [
    ["The", "cat", "sat", "on", "the", "mat", "."],
    ["Alice", "visited", "Paris"],
    ["Who", "wrote", "Hamlet", "?"],
    ["Great", "film"],
    ["an", "unseenword", "appears", "here", "today", "in", "Oslo", "!"],
]

LABELS = {  # labels.json's format: kind, labels, the kind's options
    "pos": {"kind": "tagging", "labels": ["DET", "NOUN", "VERB", "ADP", "PUNCT", "PROPN"],
            "options": {"scheme": "none", "crf": False}},
    "ner": {"kind": "tagging", "labels": ["O", "B-person", "I-person", "B-location", "I-location"],
            "options": {"scheme": "bio", "crf": False}},
    "sentiment": {"kind": "classification", "labels": ["0", "1"], "options": {}},
    "question": {"kind": "classification", "labels": ["DESC", "HUM", "LOC"], "options": {}},
}
PAIR_LABELS = {
    "entailment": {"kind": "pair_classification", "labels": ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"], "options": {}},
    "relatedness": {"kind": "regression", "labels": [], "options": {"texts": 2, "range": [1.0, 5.0]}},
}
PAIRS = [(["A", "man", "plays"], ["Someone", "plays"]), (["The", "cat", "sat"], ["A", "dog", "ran", "away", "."])]


def with_crf(labels: dict, crf: bool) -> dict:
    return {name: {**t, "options": {**t["options"], "crf": crf}} if t["kind"] == "tagging" else t
            for name, t in labels.items()}


def tiny_model(*, crf: bool = False, seed: int = 0, pairs: bool = False, **model) -> MultiTaskModel:
    torch.manual_seed(seed)
    vocab = build_vocab(SENTENCES[:4], min_count=1, lowercase=True, max_word_chars=8)
    config = ModelConfig.model_validate({"words": {"dim": 12, "char_dim": 6, "char_filters": 10},
                                         "bilstm": {"hidden_size": 8}, "sharing": "hard", **model})
    labels = with_crf({**LABELS, **(PAIR_LABELS if pairs else {})}, crf)
    return build_model(config, vocab, labels, {"note": "test"}).eval()


@pytest.fixture
def model() -> MultiTaskModel:
    return tiny_model()


@pytest.fixture
def crf_model() -> MultiTaskModel:
    return tiny_model(crf=True)


@pytest.fixture
def sentences() -> list[list[str]]:
    return [list(s) for s in SENTENCES]


@pytest.fixture
def make_model():
    """make_model(crf=..., seed=...) -> a fresh tiny model in eval mode."""
    return tiny_model


def save_and_reload(model: MultiTaskModel, folder: Path, monkeypatch, sentences: list) -> MultiTaskModel:
    """Save `model` to folder and load it back with every unpickling entry point made to fail the test;
    the loaded model has the same weights and predicts `sentences` exactly as `model` does."""
    before = predict(model, sentences)
    save_model(model, folder)
    for module, attr in ((torch, "load"), (pickle, "load"), (pickle, "loads")):
        monkeypatch.setattr(module, attr, lambda *a, **k: pytest.fail("loading a model unpickled"))
    loaded = load_model(folder)
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert predict(loaded, sentences) == before
    return loaded
