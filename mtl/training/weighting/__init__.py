"""Loss weighting: how a step's task losses become one update. One small module per method, one registry.

    static       L = sum_t λ_t L_t with training.loss_weights (the default; one sampled task per step)
    uncertainty  learned log-variances s_t: L = sum_t exp(-s_t) L_t + s_t / 2        Kendall, Gal & Cipolla 2018
    dwa          w_t = k softmax_t(r_t / T), r_t = L_t(w-1) / L_t(w-2) over windows  Liu, Johns & Davison 2019
    gradnorm     learned w_t pulled toward equal gradient norms x training rates     Chen et al. 2018
    pcgrad       per-task gradients projected off each other where they conflict    Yu et al. 2020

Step mode, decided by the method (`every_task`): static trains one task per step, the one training.sampler
draws, as before; every other method needs several tasks' losses at once, so each of its steps takes the
next batch of every task (k forward and backward passes per step, tasks in params order).

A method is a plain class (no base class) with:
    every_task                      bool, the step mode above
    parameters()                    its learned tensors; the loop's AdamW trains them (no weight decay)
    backward(losses, model, scale)  fills .grad from {task: loss}, times `scale` (fp16's loss scale, which the
                                    GradScaler divides out again); returns (objective, {task: weight used})
    after_step()                    after optimizer.step()
    state_dict() / load_state_dict(tensors, meta)
                                    everything it advances: tensors (safetensors) and JSON, for exact resume
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from mtl.config import TrainingConfig
from mtl.training.weighting.dwa import DWA
from mtl.training.weighting.gradnorm import GradNorm
from mtl.training.weighting.pcgrad import PCGrad
from mtl.training.weighting.static import Static
from mtl.training.weighting.uncertainty import Uncertainty


class Weighting(Protocol):
    every_task: bool

    def parameters(self) -> list[nn.Parameter]: ...

    def backward(self, losses: dict[str, torch.Tensor], model: nn.Module, scale: float = 1.0
                 ) -> tuple[float, dict[str, float]]: ...

    def after_step(self) -> None: ...

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]: ...

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None: ...


METHODS = {"static": Static, "uncertainty": Uncertainty, "dwa": DWA, "gradnorm": GradNorm, "pcgrad": PCGrad}


def make_weighting(cfg: TrainingConfig, tasks: list[str], device: torch.device | str = "cpu") -> Weighting:
    """The configured method for these tasks (in params order), fresh, its tensors on `device`;
    load_state_dict restores one."""
    return METHODS[cfg.weighting.kind](cfg, tasks, device)
