"""A pretrained Hugging Face encoder (model.encoder: pretrained, model.pretrained.source: a folder or a hub name).

Loaded with transformers' AutoModel and AutoTokenizer. Sentences are split into the model's sub-word
pieces and the piece states pooled back to one state per word (subwords.py), so every head still sees
(B, T, H) word states. finetune: false freezes the encoder (no gradients, dropout off: the heads learn on
fixed features); true trains it with the rest, at the training learning rate.

Models are data: the encoder's weights are saved in model.safetensors with the heads, its configuration in
config.json (encoder_options.hf_config) and its tokenizer's files beside them, so load_model needs neither
the hub nor the original folder. Only the first build reads `model.pretrained.source`; that reading is offline
when HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set (the entry points set both), so a hub name then works
only when it is already in the local Hugging Face cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.model.batch import Text
from mtl.model.encoders.subwords import SubwordVocab, layout, pack_pieces, pool_words
from mtl.model.spec import MultiTaskConfig
from mtl.model.vocab import Vocab


class PretrainedEncoder(nn.Module):
    def __init__(self, config: MultiTaskConfig, *, weights: str | None = None) -> None:
        """weights: a folder or hub name to load the published weights from; None: the architecture only."""
        from transformers import AutoConfig, AutoModel

        super().__init__()
        options = config.encoder_options
        self.pooling, self.finetune = options["pooling"], options["finetune"]
        self.templates, self.pad_id = options["templates"], options["pad_id"]  # templates: per number of texts
        hf_config = AutoConfig.for_model(**options["hf_config"])
        if weights is None:
            self.model = AutoModel.from_config(hf_config)
        else:
            self.model = AutoModel.from_pretrained(weights, config=hf_config, dtype=torch.float32,
                                                   local_files_only=hub_offline())
        self.model.requires_grad_(self.finetune)
        self.dropout = nn.Dropout(config.dropout)
        self.output_size = hf_config.hidden_size
        self.n_layers = hf_config.num_hidden_layers  # the states forward(batch, all_layers=True) returns
        self.train(self.training)

    def pretrained_parameters(self) -> list[nn.Parameter]:
        """The published weights: the optimizer gives them training.pretrained_lr (make_optimizer)."""
        return list(self.model.parameters())

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode)
        if not self.finetune:
            self.model.eval()  # a frozen encoder gives the same features in training and prediction
        return self

    def forward(self, texts: list[Text], all_layers: bool = False) -> list[torch.Tensor] | list[list[torch.Tensor]]:
        """One (B, T, H) tensor of word states per text; all_layers: per layer (the embeddings not counted; the
        last is the default output), that list. A pair is read as one sequence, so its texts attend to each
        other; its piece states are pooled back to each text's words, and through the dropout."""
        template = self.templates[str(len(texts))]
        ids, attention, types, words = pack_pieces([text.chars for text in texts], template, self.pad_id)
        widths = [text.words.size(1) for text in texts]
        inputs = {"input_ids": ids, "attention_mask": attention.long()}
        if self.uses_token_types:
            inputs["token_type_ids"] = types
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            out = self.model(**inputs, output_hidden_states=all_layers)

        def per_text(pieces: torch.Tensor) -> list[torch.Tensor]:  # (B, S, H) -> [(B, T_i, H)]
            return list(self.dropout(pool_words(pieces, words, sum(widths), self.pooling)).split(widths, dim=1))

        if all_layers:  # hidden_states[0] is the embeddings
            return [per_text(pieces) for pieces in out.hidden_states[1:]]
        return per_text(out.last_hidden_state)

    @property
    def uses_token_types(self) -> bool:
        return getattr(self.model.config, "type_vocab_size", 0) > 1


# --- the registry's interface -------------------------------------------------------------------------


def prepare(model_cfg: ModelConfig, vocab: Vocab, root: Path) -> tuple[SubwordVocab, dict]:
    """The model's tokenizer (it replaces the word vocabulary) and everything the encoder needs to be
    rebuilt without its source: the architecture, the special tokens around a sentence, the pooling."""
    section = model_cfg.pretrained
    source = locate(section.source, root)
    tokenizer, hf_config = read_source(source)
    templates = {str(n): layout(tokenizer, n) for n in (1, 2)}  # where texts sit among the special tokens
    max_length = model_max_length(tokenizer, hf_config)
    options = {
        "source": source,  # lineage only: loading never reads it
        "pooling": section.subword_pooling,
        "finetune": section.finetune,
        "templates": templates,
        "pad_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "max_length": max_length,
        "hf_config": json.loads(hf_config.to_json_string(use_diff=False)),  # the architecture, as plain JSON
    }
    max_pieces = {n: max_length - sum(map(len, template["segments"])) for n, template in templates.items()}
    return SubwordVocab(tokenizer, max_pieces), options


def build(config: MultiTaskConfig, *, fresh: bool) -> PretrainedEncoder:
    return PretrainedEncoder(config, weights=config.encoder_options["source"] if fresh else None)


def load_vocab(folder: Path) -> SubwordVocab:
    return SubwordVocab.load(folder / "vocab.json")


# --- finding the source -------------------------------------------------------------------------------


def hub_offline() -> bool:
    """The hub is off when HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE says so. Read now, not at import time as
    huggingface_hub does, so a process that sets them after importing it is still offline."""
    return any(os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def locate(name: str | None, root: Path) -> str:
    """model.pretrained.source as a folder (relative to params.yaml's folder, else to the working directory) when
    one exists there, else as a hub name."""
    if not name:
        raise ValueError("model.encoder is pretrained but model.pretrained.source names no model (a folder or a hub "
                         "name)")
    for folder in (root / Path(name).expanduser(), Path(name).expanduser()):
        if folder.is_dir():
            return str(folder.resolve())
    return name


def read_source(source: str) -> tuple[Any, Any]:
    """(tokenizer, config) of a folder or a hub name, with one clear error when neither can be read."""
    from transformers import AutoConfig, AutoTokenizer

    offline = hub_offline()
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=offline)
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError) as error:
        if Path(source).is_dir():
            raise ValueError(f"model.pretrained.source {source}: not a Hugging Face model folder: {error}") from None
        if offline:
            raise ValueError(
                f"model.pretrained.source {source!r} is not a folder (relative paths are relative to params.yaml) and "
                "not in the local Hugging Face cache, and the hub is offline (HF_HUB_OFFLINE=1). Give a model "
                "folder, or allow downloads: HF_HUB_OFFLINE=0 TRANSFORMERS_OFFLINE=0"
            ) from None
        raise ValueError(f"model.pretrained.source {source!r}: neither a folder nor a model the hub could give: "
                         f"{error}") from None
    try:
        tokenizer(["a"], is_split_into_words=True)
    except (ValueError, AssertionError, TypeError):
        # Byte-level BPE (RoBERTa, GPT-2) takes words split in advance only with a space before each.
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline, add_prefix_space=True)
    return tokenizer, config


def model_max_length(tokenizer: Any, hf_config: Any) -> int:
    """Pieces the model reads at most, special tokens included: the tokenizer's limit when it states a
    real one, capped by the model's position table."""
    limits = [n for n in (tokenizer.model_max_length, getattr(hf_config, "max_position_embeddings", None))
              if isinstance(n, int) and 0 < n < 1_000_000]
    if not limits:
        raise ValueError("the pretrained model states no maximum length (tokenizer nor config)")
    return min(limits)
