"""Static weights: L = sum_t λ_t L_t, λ from training.loss_weights (1.0 where unlisted). One sampled task per step.

With one task per step this is exactly the loop's original `(λ * loss).backward()`: same ops, same bits.
"""

from __future__ import annotations

import torch
from torch import nn

from mtl.config import TrainingConfig


def weighted_sum(losses: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """sum_t w_t L_t, without a leading `0 +` (one task gives exactly w * L)."""
    terms = [weights[task] * loss for task, loss in losses.items()]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


class Static:
    every_task = False

    def __init__(self, cfg: TrainingConfig, tasks: list[str], device: torch.device | str = "cpu") -> None:
        self.weights = {task: cfg.loss_weights.get(task, 1.0) for task in tasks}

    def parameters(self) -> list[nn.Parameter]:
        return []

    def backward(self, losses: dict[str, torch.Tensor], model: nn.Module, scale: float = 1.0
                 ) -> tuple[float, dict[str, float]]:
        total = weighted_sum(losses, self.weights)
        (total * scale if scale != 1.0 else total).backward()
        return total.item(), {task: self.weights[task] for task in losses}

    def after_step(self) -> None:
        pass

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        return {}, {}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        pass
