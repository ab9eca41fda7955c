"""mtl.load(folder) -> Predictor: a saved model from Python with nothing but its folder (no params.yaml, no
training configuration, no hub, not the pretrained model's original folder), and `import mtl` stays light."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mtl
from mtl.config import ModelConfig
from mtl.model import Predictor, build_model, build_vocab, predict, save_model
from tests.model.conftest import LABELS, SENTENCES
from tests.model.test_encoders import write_tiny_bert

REPO = Path(__file__).resolve().parents[1]

WORDS = {"dim": 12, "char_dim": 6, "char_filters": 10}
MODELS = {
    "bilstm": {"words": WORDS, "bilstm": {"hidden_size": 8}},
    "transformer": {"encoder": "transformer", "words": WORDS,
                    "transformer": {"d_model": 16, "attention_heads": 2, "ff_size": 32}},
    "pretrained": {"encoder": "pretrained", "pretrained": {"subword_pooling": "mean"}},
}


def saved_model(name: str, folder: Path, bert: Path | None = None):
    torch.manual_seed(0)
    section = json.loads(json.dumps(MODELS[name]))
    if bert:
        section["pretrained"]["source"] = str(bert)
    vocab = build_vocab(SENTENCES, min_count=1, lowercase=True, max_word_chars=8)
    model = build_model(ModelConfig.model_validate(section), vocab, LABELS, {"note": "test"}).eval()
    save_model(model, folder)
    return model


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_import_mtl_does_not_import_torch():
    code = "import sys, mtl; assert callable(mtl.load); assert 'torch' not in sys.modules, 'import mtl loaded torch'"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("name", ["bilstm", "transformer", "pretrained"])
def test_load_predicts_every_task_per_sentence_from_the_folder_alone(name, tmp_path, monkeypatch, no_network):
    bert = write_tiny_bert(tmp_path / "bert") if name == "pretrained" else None
    model = saved_model(name, tmp_path / "model", bert)
    if bert is not None:
        shutil.rmtree(bert)  # the model folder must carry the encoder's weights and tokenizer
    monkeypatch.chdir(tmp_path)  # no params.yaml here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    predictor = mtl.load(tmp_path / "model")
    assert isinstance(predictor, Predictor)
    assert predictor.tasks == ["pos", "ner", "sentiment", "question"]
    out = predictor.predict(["Alice visited Paris.", ["Who", "wrote", "Hamlet", "?"]])
    assert len(out) == 2 and all(set(row) == set(LABELS) for row in out)
    assert len(out[0]["pos"]) == 4  # treebank: Alice visited Paris .
    assert len(out[1]["ner"]) == 4 and out[1]["sentiment"] in LABELS["sentiment"]["labels"]
    expected = predict(model, [["Alice", "visited", "Paris", "."], ["Who", "wrote", "Hamlet", "?"]])
    assert out == [{task: values[i] for task, values in expected.items()} for i in range(2)]


def test_predict_takes_a_task_subset_and_rejects_a_bare_string(tmp_path):
    saved_model("bilstm", tmp_path / "model")
    predictor = mtl.load(tmp_path / "model")
    assert predictor.predict([["great", "film"]], tasks=["sentiment"])[0].keys() == {"sentiment"}
    assert predictor.predict([]) == []
    with pytest.raises(TypeError, match="list of sentences"):
        predictor.predict("great film")
