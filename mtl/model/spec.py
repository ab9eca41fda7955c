"""The model's shape as data: what build_model fills in from params, the vocabularies and the labels, what
config.json holds, and all a model folder needs to be rebuilt (with its weights) without params.yaml."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mtl.tasks import get_kind
from mtl.tasks.kind import TaskKind, TaskOptions


@dataclass
class TaskSpec:
    kind: str  # a name in mtl.tasks.KINDS
    labels: list[str]  # id -> label name ([] for a regression)
    options: dict[str, Any] = field(default_factory=dict)  # the kind's options from params (scheme, crf, range, ...)

    @property
    def task_kind(self) -> TaskKind:
        return get_kind(self.kind)

    def task_options(self) -> TaskOptions:
        """The kind's typed options, as params gave them (the labels aside)."""
        return self.task_kind.Options.model_validate({"kind": self.kind, **self.options})

    @property
    def n_texts(self) -> int:
        return len(self.task_kind.text_fields(self.task_options()))


@dataclass
class MultiTaskConfig:
    n_words: int  # word vocabulary size (unused by a pretrained encoder, which brings its tokenizer)
    n_chars: int
    dropout: float
    tasks: dict[str, TaskSpec]
    encoder: str  # a name in mtl.model.encoders.ENCODERS
    encoder_options: dict[str, Any]  # the encoder's own settings (its prepare())
    sharing: str  # a name in mtl.model.sharing.SCHEMES
    sharing_options: dict[str, Any]  # the scheme's own settings (its options())
    tokenizer: str = "treebank"  # how raw text is split at prediction time (mtl/corpora/tokenize.py)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MultiTaskConfig:
        tasks = {name: TaskSpec(**spec) for name, spec in data["tasks"].items()}
        return cls(**{**data, "tasks": tasks})
