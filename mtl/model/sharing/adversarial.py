"""Adversarial shared-private sharing (model.sharing: adversarial): Liu, Qiu & Huang, "Adversarial Multi-task
Learning for Text Classification", ACL 2017.

A shared encoder S and a private encoder P_t per task (the same architecture, built by the same encoder
module); task t's head reads [S(x); P_t(x)], (B, T, 2H). Two auxiliary losses keep the shared states
task-neutral and the private ones complementary:

    adversarial    a task discriminator (a linear layer, softmax over tasks) reads the shared states, mean-
                   pooled over each sentence's words, through a gradient reversal layer: the discriminator
                   learns to tell the batch's task, the shared encoder gets the negated gradient and learns
                   to hide it. Weight adversarial_weight (λ, 0.05 in the paper) on its cross-entropy.
    orthogonality  || Sᵀ P_t ||²_F per sentence, S and P_t its (T, H) shared and private word states (the
                   paper's rows are a sentence's states), averaged over the batch's sentences so the weight
                   means the same whatever the batch size: 0 when no shared feature correlates with a
                   private one. Weight orthogonality_weight (γ, 0.01 in the paper).

The discriminator's target is batch.task, the task the sentences came from. The shared encoder runs once per
batch, each asked task's private encoder once. The discriminator serves training only (counted neither
shared nor per task). Parts: encoder, private ({task: encoder}), discriminator.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mtl.config import ModelConfig
from mtl.model.batch import Batch
from mtl.model.encoders import get_encoder
from mtl.model.spec import MultiTaskConfig
from mtl.tasks.kind import Encoded


class GradientReversal(torch.autograd.Function):
    """The identity forward; the gradient negated backward (Ganin & Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return -grad


def reverse_gradient(x: torch.Tensor) -> torch.Tensor:
    return GradientReversal.apply(x)


def orthogonality(shared: torch.Tensor, private: torch.Tensor) -> torch.Tensor:
    """|| S_bᵀ P_b ||²_F averaged over sentences b, from (B, T, H) shared and private states (zeros on
    padding, which then adds nothing)."""
    return torch.einsum("bth,btg->bhg", shared, private).pow(2).sum(dim=(1, 2)).mean()  # (B, H, H) -> ()


def options(model_cfg: ModelConfig) -> dict:
    return {"adversarial_weight": model_cfg.adversarial.weight,
            "orthogonality_weight": model_cfg.adversarial.orthogonality}


def build(config: MultiTaskConfig, *, fresh: bool) -> tuple[dict[str, nn.Module], int]:
    encoder = get_encoder(config.encoder)
    shared = encoder.build(config, fresh=fresh)
    private = nn.ModuleDict({task: encoder.build(config, fresh=fresh) for task in config.tasks})
    discriminator = nn.Linear(shared.output_size, len(config.tasks))
    return {"encoder": shared, "private": private, "discriminator": discriminator}, 2 * shared.output_size


def forward(model: nn.Module, batch: Batch, tasks: list[str], auxiliary: bool
            ) -> tuple[dict[str, Any], torch.Tensor | None]:
    shared = model.encoder(batch.texts)  # one (B, T, H) per text, once for every task
    private = {task: model.private[task](batch.texts) for task in tasks}
    outputs = {task: model.heads[task]([Encoded(torch.cat([s, p], dim=-1), text.mask)  # (B, T, 2H) per text
                                        for s, p, text in zip(shared, private[task], batch.texts)])
               for task in tasks}
    if not auxiliary or batch.task not in private:
        return outputs, None
    text = batch.texts[0]  # the discriminator and the penalty read the first text (a pair's premise)
    real = text.mask.unsqueeze(2)  # (B, T, 1): states are not zero on padding
    states, own = shared[0] * real, private[batch.task][0] * real
    pooled = states.sum(dim=1) / text.lengths.unsqueeze(1)  # (B, H): each text's mean word state
    logits = model.discriminator(reverse_gradient(pooled))  # (B, K)
    target = torch.full((logits.size(0),), list(model.config.tasks).index(batch.task), device=logits.device)
    adversarial = F.cross_entropy(logits.float(), target)
    orthogonal = orthogonality(states.float(), own.float())
    weights = model.config.sharing_options
    return outputs, weights["adversarial_weight"] * adversarial + weights["orthogonality_weight"] * orthogonal


def shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    return list(model.encoder.parameters())


def task_parameters(model: nn.Module, task: str) -> list[nn.Parameter]:
    return list(model.private[task].parameters())


def last_shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    return list(model.encoder.parameters())  # the shared encoder, whole (as hard)
