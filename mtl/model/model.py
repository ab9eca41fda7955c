"""The multi-task model: encoder(s) shared as the sharing scheme says, one small head per task.

The encoders come from mtl/model/encoders/ (bilstm, transformer, pretrained: each maps a batch's texts to one
state per word), the sharing scheme from mtl/model/sharing/ (hard, soft, adversarial, attention), the heads
from the task kinds (mtl/tasks/), so nothing here knows one encoder, scheme or task kind from another. Its
shape is a MultiTaskConfig (spec.py). Shapes: B examples, T words, H encoder width, L labels.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtl.model.batch import Batch
from mtl.model.sharing import get_sharing
from mtl.model.spec import MultiTaskConfig


class MultiTaskModel(nn.Module):
    def __init__(self, config: MultiTaskConfig, vocab, params: dict | None = None, *, fresh: bool = False) -> None:
        """fresh: a new model (a pretrained encoder loads its published weights); load_model leaves it False
        and fills every weight from model.safetensors."""
        super().__init__()
        self.config = config
        self.vocab = vocab  # not weights: a word Vocab, or a pretrained tokenizer's SubwordVocab; saved beside them
        self.params = params or {}  # the resolved params it was trained with, saved in config.json
        # The scheme's parts become the model's own modules: hard gives self.encoder, (B, T, H) word states;
        # soft self.encoders; adversarial self.encoder, self.private, self.discriminator; attention
        # self.encoder, self.mix. head_size: the width of what the heads read.
        parts, head_size = get_sharing(config.sharing).build(config, fresh=fresh)
        for name, part in parts.items():
            self.add_module(name, part)
        self.heads = nn.ModuleDict(
            {name: spec.task_kind.build_head(head_size, len(spec.labels), spec.options)
             for name, spec in config.tasks.items()}
        )
        self._auxiliary: torch.Tensor | None = None  # the last training pass's auxiliary loss

    def forward(self, batch: Batch, tasks: list[str]) -> dict[str, Any]:
        """{task: head output}: each shared encoder runs once over the batch's texts, then each asked head reads
        its task's states. In training (with gradients) the scheme's auxiliary loss of this pass is kept for
        auxiliary_loss()."""
        scheme = get_sharing(self.config.sharing)
        outputs, self._auxiliary = scheme.forward(self, batch, tasks, self.training and torch.is_grad_enabled())
        return outputs

    def auxiliary_loss(self) -> torch.Tensor | float:
        """The sharing scheme's penalties on the last forward pass in training (soft: the L2 pull between the
        task encoders; adversarial: the task discriminator's and the orthogonality losses), to be added to
        that pass's task loss; 0.0 for hard and attention. Taken once: a second call gives 0.0."""
        auxiliary, self._auxiliary = self._auxiliary, None
        return 0.0 if auxiliary is None else auxiliary

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Where GradNorm measures the tasks' gradient norms: the shared encoder (soft: all task encoders)."""
        return get_sharing(self.config.sharing).last_shared_parameters(self)

    def parameter_counts(self) -> dict:
        """{"total", "shared", "per_task": {task: n}, "other"}: shared is what every task uses (the shared
        encoder), per_task what only that task uses (its head; soft: its encoder; adversarial: its private
        encoder; attention: its layer mix), other what no task's prediction uses (the adversarial
        discriminator, for training only). total = shared + sum(per_task) + other; frozen weights count."""
        scheme = get_sharing(self.config.sharing)
        count = lambda params: sum(p.numel() for p in params)  # noqa: E731
        shared = count(scheme.shared_parameters(self))
        per_task = {task: count(self.heads[task].parameters()) + count(scheme.task_parameters(self, task))
                    for task in self.config.tasks}
        total = self.n_parameters()
        return {"total": total, "shared": shared, "per_task": per_task,
                "other": total - shared - sum(per_task.values())}

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
