"""Models are data: a model folder is weights (safetensors) plus JSON, and loading never unpickles.

    model.safetensors   the state dict (a pretrained encoder's weights included)
    config.json         the model's shape (spec.py: the encoder and its options, the sharing scheme and its
                        options, the tasks with their kinds, labels and options, the raw-text tokenizer) and
                        the resolved params it was trained with
    vocab.json          word and character vocabularies; for a pretrained encoder {"kind": "subwords"},
                        with its tokenizer's files beside it (tokenizer.json, tokenizer_config.json, ...)
    labels.json         {task: {kind, labels, options}}, the unified dataset's format

A folder that cannot be read (a file missing, truncated or not what it should be) is a ModelFileError
naming the file and what is wrong, never a bare traceback from the library that read it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mtl.config import ModelConfig
from mtl.errors import MtlError
from mtl.model.encoders import get_encoder
from mtl.model.model import MultiTaskModel
from mtl.model.sharing import get_sharing
from mtl.model.spec import MultiTaskConfig, TaskSpec
from mtl.model.vocab import Vocab

FORMAT_VERSION = 2


class ModelFileError(MtlError, ValueError):
    """A model folder's file is missing or unreadable; the message names it."""


def build_model(
    model_cfg: ModelConfig, vocab: Vocab, labels: dict[str, dict], params: dict | None = None
) -> MultiTaskModel:
    """A fresh model for the given tasks ({task: {kind, labels, options}}, labels.json's format) from the
    params' model section.

    vocab is the word vocabulary built from train; a pretrained encoder replaces it with its tokenizer
    (model.vocab is what texts must be encoded with). A relative model.pretrained.source folder is found
    from params["root"] (params.yaml's folder), else from the working directory."""
    encoder = get_encoder(model_cfg.encoder)
    root = Path(params["root"]) if params and params.get("root") else Path.cwd()
    word_vocab = vocab
    vocab, encoder_options = encoder.prepare(model_cfg, word_vocab, root)
    tasks = {name: TaskSpec(kind=t["kind"], labels=list(t["labels"]), options=dict(t.get("options", {})))
             for name, t in labels.items()}
    config = MultiTaskConfig(
        n_words=len(word_vocab.words),
        n_chars=len(word_vocab.chars),
        dropout=model_cfg.dropout,
        tasks=tasks,
        encoder=model_cfg.encoder,
        encoder_options=encoder_options,
        sharing=model_cfg.sharing,
        sharing_options=get_sharing(model_cfg.sharing).options(model_cfg),
        tokenizer=model_cfg.tokenizer,
    )
    return MultiTaskModel(config, vocab, params, fresh=True)


def save_model(model: MultiTaskModel, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    save_file(weights, folder / "model.safetensors", metadata={"format": str(FORMAT_VERSION)})
    config = {"format": FORMAT_VERSION, "model": model.config.to_json(), "params": model.params}
    write_json(folder / "config.json", config)
    model.vocab.save(folder / "vocab.json")
    labels = {name: {"kind": t.kind, "labels": t.labels, "options": t.options} for name, t in model.config.tasks.items()}
    write_json(folder / "labels.json", labels)


def load_model(folder: str | Path, device: str = "cpu") -> MultiTaskModel:
    """The model saved in folder, in eval mode, on `device`."""
    folder = Path(folder)
    config = read_json(folder / "config.json")
    if config.get("format") != FORMAT_VERSION:
        raise ModelFileError(f"{folder / 'config.json'}: model format {config.get('format')!r}, expected "
                             f"{FORMAT_VERSION}: retrain the model with this version of mtl")
    try:
        model_config = MultiTaskConfig.from_json(config["model"])
        encoder = get_encoder(model_config.encoder)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{folder / 'config.json'}: not a model configuration ({error})") from None
    try:
        vocab = encoder.load_vocab(folder)
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{folder / 'vocab.json'}: cannot read the vocabulary ({_what(error)})") from None
    model = MultiTaskModel(model_config, vocab, config.get("params"))
    weights = load_weights(folder / "model.safetensors")
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ModelFileError(f"{folder / 'model.safetensors'}: the weights do not fit config.json "
                             f"({str(error).splitlines()[0]})") from None
    return model.to(device).eval()


def load_weights(path: Path) -> dict[str, Any]:
    """A safetensors file's tensors, on the CPU; a missing or truncated file is a ModelFileError."""
    try:
        return load_file(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: missing") from None
    except (SafetensorError, OSError) as error:
        raise ModelFileError(f"{path}: not a readable safetensors file ({error}); it may be truncated") from None


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a JSON object")
    return data


def read_tokenizer(folder: str | Path) -> str:
    """The raw-text tokenizer recorded in a model folder (model.tokenizer in params when it was trained)."""
    path = Path(folder) / "config.json"
    try:
        return read_json(path)["model"]["tokenizer"]
    except (KeyError, TypeError):
        raise ModelFileError(f"{path}: records no tokenizer") from None


def replace_folder(staged: Path, final: Path) -> None:
    """Move a fully written folder into place; a kill leaves either the old or the new one (or .old)."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _what(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
