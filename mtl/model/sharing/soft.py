"""Soft parameter sharing (model.sharing: soft): an encoder per task, all of the same architecture (built by
the same encoder module), and an L2 penalty that pulls their parameters together (Duong, Cohn, Bird & Cook,
"Low Resource Dependency Parsing: Cross-lingual Parameter Sharing in a Neural Network Parser", ACL 2015):

    auxiliary loss = soft_l2 * sum_t || θ_t - θ̄ ||²,   θ̄ the mean of the k task encoders' parameters

(for two tasks that is soft_l2 / 2 * ||θ_1 - θ_2||²). The encoders start as copies of one, so the penalty
starts at 0 and grows only as far as each task's data pulls its encoder away. Nothing is shared, so each
asked task runs its own encoder: prediction costs one encoder pass per task, not one per batch. The
penalty rides on each step's task loss (every_task weighting methods: on each of the k task losses).
A frozen pretrained encoder never moves: the k copies stay equal and soft is hard sharing at k x the cost.
Parts: encoders ({task: encoder}).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.model.batch import Batch
from mtl.model.encoders import get_encoder
from mtl.model.spec import MultiTaskConfig
from mtl.tasks.kind import Encoded


def l2_penalty(encoders: list[nn.Module]) -> torch.Tensor:
    """sum_t || θ_t - θ̄ ||² over the encoders' trainable parameters: 0 when the encoders are identical."""
    total = torch.zeros((), device=next(encoders[0].parameters()).device)
    for params in zip(*(encoder.parameters() for encoder in encoders)):
        if params[0].requires_grad:
            stacked = torch.stack(params)  # (k, *shape)
            total = total + (stacked - stacked.mean(dim=0)).pow(2).sum()
    return total


def options(model_cfg: ModelConfig) -> dict:
    return {"l2": model_cfg.soft.l2}


def build(config: MultiTaskConfig, *, fresh: bool) -> tuple[dict[str, nn.Module], int]:
    encoder = get_encoder(config.encoder)
    encoders = nn.ModuleDict({task: encoder.build(config, fresh=fresh) for task in config.tasks})
    first = next(iter(encoders.values()))
    for other in encoders.values():  # one starting point for all (load_model then fills each from the file)
        other.load_state_dict(first.state_dict())
    return {"encoders": encoders}, first.output_size


def forward(model: nn.Module, batch: Batch, tasks: list[str], auxiliary: bool
            ) -> tuple[dict[str, Any], torch.Tensor | None]:
    outputs = {}
    for task in tasks:  # each task's own encoder, over every text
        states = model.encoders[task](batch.texts)
        outputs[task] = model.heads[task]([Encoded(s, text.mask) for s, text in zip(states, batch.texts)])
    if not auxiliary:
        return outputs, None
    return outputs, model.config.sharing_options["l2"] * l2_penalty(list(model.encoders.values()))


def shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    return []


def task_parameters(model: nn.Module, task: str) -> list[nn.Parameter]:
    return list(model.encoders[task].parameters())


def last_shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    # No layer is shared: GradNorm measures each task's gradient on all the encoders, in effect on its own
    # encoder (the penalty, added to every task loss, is the same for all tasks).
    return list(model.encoders.parameters())
