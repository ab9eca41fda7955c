"""Models are data: a model folder is weights (safetensors) plus JSON, and loading never unpickles.

    model.safetensors   the state dict (a pretrained encoder's weights included)
    config.json         the model config (sizes, the encoder and its options, the sharing scheme and its
                        options, tasks with their kinds, labels and head options) and the resolved params
                        it was trained with
    vocab.json          word and character vocabularies; for a pretrained encoder {"kind": "subwords"},
                        with its tokenizer's files beside it (tokenizer.json, tokenizer_config.json, ...)
    labels.json         {task: {kind, labels, scheme}}, the unified dataset's format
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from mtl.config import ModelConfig
from mtl.model.encoders import get_encoder
from mtl.model.model import MultiTaskConfig, MultiTaskModel, TaskSpec
from mtl.model.sharing import get_sharing
from mtl.model.vocab import Vocab

FORMAT_VERSION = 1


def build_model(
    model_cfg: ModelConfig, vocab: Vocab, labels: dict[str, dict], params: dict | None = None
) -> MultiTaskModel:
    """A fresh model for the given tasks ({task: {kind, labels, scheme}}) from the params' model section.

    vocab is the word vocabulary built from train; a pretrained encoder replaces it with its tokenizer
    (model.vocab is what sentences must be encoded with). A relative model.pretrained folder is found
    from params["root"] (params.yaml's folder), else from the working directory."""
    encoder = get_encoder(model_cfg.encoder)
    root = Path(params["root"]) if params and params.get("root") else Path.cwd()
    word_vocab = vocab
    vocab, encoder_options = encoder.prepare(model_cfg, word_vocab, root)
    tasks = {
        name: TaskSpec(kind=t["kind"], labels=list(t["labels"]), scheme=t.get("scheme", "none"),
                       options={"crf": model_cfg.crf})
        for name, t in labels.items()
    }
    config = MultiTaskConfig(
        n_words=len(word_vocab.words),
        n_chars=len(word_vocab.chars),
        word_dim=model_cfg.word_dim,
        char_dim=model_cfg.char_dim,
        char_filters=model_cfg.char_filters,
        char_kernel=model_cfg.char_kernel,
        hidden_size=model_cfg.hidden_size,
        layers=model_cfg.layers,
        dropout=model_cfg.dropout,
        word_dropout=model_cfg.word_dropout,
        tasks=tasks,
        encoder=model_cfg.encoder,
        encoder_options=encoder_options,
        sharing=model_cfg.sharing,
        sharing_options=get_sharing(model_cfg.sharing).options(model_cfg),
    )
    return MultiTaskModel(config, vocab, params, fresh=True)


def save_model(model: MultiTaskModel, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(weights, folder / "model.safetensors", metadata={"format": str(FORMAT_VERSION)})
    config = {"format": FORMAT_VERSION, "model": model.config.to_json(), "params": model.params}
    _write_json(folder / "config.json", config)
    model.vocab.save(folder / "vocab.json")
    labels = {name: {"kind": t.kind, "labels": t.labels, "scheme": t.scheme} for name, t in model.config.tasks.items()}
    _write_json(folder / "labels.json", labels)


def load_model(folder: str | Path) -> MultiTaskModel:
    """The model saved in folder, in eval mode."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("format") != FORMAT_VERSION:
        raise ValueError(f"{folder}: model format {config.get('format')!r}, expected {FORMAT_VERSION}")
    model_config = MultiTaskConfig.from_json(config["model"])
    vocab = get_encoder(model_config.encoder).load_vocab(folder)
    model = MultiTaskModel(model_config, vocab, config["params"])
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    return model.eval()


def replace_folder(staged: Path, final: Path) -> None:
    """Move a fully written folder into place; a kill leaves either the old or the new one (or .old)."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
