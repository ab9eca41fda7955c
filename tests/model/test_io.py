"""Models are data: safetensors + JSON, a round trip that predicts identically, no pickle anywhere."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors import safe_open

from mtl.model import ModelFileError, load_model, predict, save_model


@pytest.mark.parametrize("crf", [False, True])
def test_round_trip_gives_identical_weights_and_predictions(tmp_path, make_model, sentences, crf, monkeypatch):
    model = make_model(crf=crf, seed=3)
    save_model(model, tmp_path / "m")
    for module, name in ((torch, "load"), (pickle, "load"), (pickle, "loads")):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("loading a model unpickled"))
    loaded = load_model(tmp_path / "m")
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    assert predict(loaded, sentences) == predict(model, sentences)
    assert loaded.vocab.words == model.vocab.words and loaded.params == {"note": "test"}


def test_folder_layout_is_weights_plus_json(tmp_path, crf_model):
    save_model(crf_model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json", "labels.json", "model.safetensors", "vocab.json"
    ]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["tasks"]["ner"] == {
        "kind": "tagging",
        "labels": ["O", "B-person", "I-person", "B-location", "I-location"],
        "options": {"scheme": "bio", "crf": True},
    }
    assert config["model"]["tokenizer"] == "treebank"
    labels = json.loads((tmp_path / "m" / "labels.json").read_text())
    assert labels["sentiment"] == {"kind": "classification", "labels": ["0", "1"], "options": {}}
    with safe_open(tmp_path / "m" / "model.safetensors", "pt") as weights:
        assert set(weights.keys()) == set(crf_model.state_dict())


def test_loading_an_unknown_format_fails(tmp_path, model):
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 99}))
    with pytest.raises(ModelFileError, match=r"config.json: model format 99, expected 2"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("damage", ["truncated weights", "missing vocab", "malformed vocab", "wrong-shaped config",
                                    "config not json", "weights of another model"])
def test_a_broken_model_folder_is_one_error_naming_the_file(tmp_path, model, make_model, damage):
    folder = tmp_path / "m"
    save_model(model, folder)
    if damage == "truncated weights":
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
        expected = r"model.safetensors: not a readable safetensors file"
    elif damage == "missing vocab":
        (folder / "vocab.json").unlink()
        expected = r"vocab.json: cannot read the vocabulary"
    elif damage == "malformed vocab":
        (folder / "vocab.json").write_text('{"words": 3}')
        expected = r"vocab.json: cannot read the vocabulary"
    elif damage == "wrong-shaped config":
        config = json.loads((folder / "config.json").read_text())
        config["model"] = {"n_words": "many"}
        (folder / "config.json").write_text(json.dumps(config))
        expected = r"config.json: not a model configuration"
    elif damage == "config not json":
        (folder / "config.json").write_text("{not json")
        expected = r"config.json: not readable JSON"
    else:
        save_model(make_model(seed=1, **{"bilstm": {"hidden_size": 4}}), tmp_path / "other")
        (folder / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
        expected = r"model.safetensors: the weights do not fit config.json"
    with pytest.raises(ModelFileError, match=expected) as error:
        load_model(folder)
    assert str(folder) in str(error.value)
