"""The multi-task model, hard parameter sharing: one shared encoder, one small head per task.

Reading order: config, MultiTaskModel. The encoder comes from mtl/model/encoders/ (bilstm, transformer,
pretrained: each maps a batch to one state per word), the heads from the task kinds (mtl/tasks/*.py,
building on mtl/model/heads.py), so nothing here knows one encoder or task kind from another.
Shapes: B sentences, T words, H encoder width, L labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from mtl.model.batch import Batch
from mtl.model.encoders import get_encoder
from mtl.tasks import get_kind


@dataclass
class TaskSpec:
    kind: str  # a name in mtl.tasks.KINDS
    labels: list[str]  # id -> label name
    scheme: str = "none"
    options: dict[str, Any] = field(default_factory=dict)  # passed to the kind's build_head (e.g. crf)


@dataclass
class MultiTaskConfig:
    """The model's shape; build_model fills it from params.model, the vocabularies and the labels."""

    n_words: int
    n_chars: int
    word_dim: int
    char_dim: int
    char_filters: int
    char_kernel: int
    hidden_size: int  # per LSTM direction
    layers: int  # BiLSTM or Transformer layers
    dropout: float
    word_dropout: float
    tasks: dict[str, TaskSpec]
    encoder: str = "bilstm"  # a name in mtl.model.encoders.ENCODERS
    encoder_options: dict[str, Any] = field(default_factory=dict)  # the encoder's own settings (its prepare())

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MultiTaskConfig:
        tasks = {name: TaskSpec(**spec) for name, spec in data["tasks"].items()}
        return cls(**{**data, "tasks": tasks})


class MultiTaskModel(nn.Module):
    def __init__(self, config: MultiTaskConfig, vocab, params: dict | None = None, *, fresh: bool = False) -> None:
        """fresh: a new model (a pretrained encoder loads its published weights); load_model leaves it False
        and fills every weight from model.safetensors."""
        super().__init__()
        self.config = config
        self.vocab = vocab  # not weights: a word Vocab, or a pretrained tokenizer's SubwordVocab; saved beside them
        self.params = params or {}  # the resolved params it was trained with, saved in config.json
        self.encoder = get_encoder(config.encoder).build(config, fresh=fresh)  # (B, T, H) word states
        self.heads = nn.ModuleDict(
            {
                name: get_kind(spec.kind).build_head(self.encoder.output_size, len(spec.labels), spec.options)
                for name, spec in config.tasks.items()
            }
        )

    def forward(self, batch: Batch, tasks: list[str]) -> dict[str, Any]:
        """Encode once, then run each asked head on the shared states: {task: head output}."""
        states = self.encoder(batch)  # (B, T, H)
        return {task: self.heads[task](states, batch.mask) for task in tasks}

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
