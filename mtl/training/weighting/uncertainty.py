"""Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018): one learned log-variance s_t = log σ_t² per task.

For a likelihood scaled by 1/σ² (softmax or CRF, which all our kinds are) the paper's objective is
L_t / σ_t² + log σ_t, i.e. exp(-s_t) L_t + s_t / 2: a noisy (high-loss) task is down-weighted, and the s_t / 2
term stops every σ from growing without bound. Its minimum in s_t is at s_t = log(2 L_t). s starts at 0
(weight 1) and is trained by the loop's AdamW; it is saved in the checkpoint (weighting.safetensors).
"""

from __future__ import annotations

import torch
from torch import nn

from mtl.config import TrainingConfig


def uncertainty_objective(losses: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """(k,) task losses, (k,) log-variances -> sum_t exp(-s_t) L_t + s_t / 2."""
    return (torch.exp(-log_var) * losses + 0.5 * log_var).sum()


class Uncertainty:
    every_task = True

    def __init__(self, cfg: TrainingConfig, tasks: list[str], device: torch.device | str = "cpu") -> None:
        self.tasks = tasks
        self.log_var = nn.Parameter(torch.zeros(len(tasks), device=device))

    def parameters(self) -> list[nn.Parameter]:
        return [self.log_var]

    def backward(self, losses: dict[str, torch.Tensor], model: nn.Module, scale: float = 1.0
                 ) -> tuple[float, dict[str, float]]:
        total = uncertainty_objective(torch.stack([losses[t].float() for t in self.tasks]), self.log_var)
        (total * scale if scale != 1.0 else total).backward()
        weights = torch.exp(-self.log_var.detach()).tolist()
        return total.item(), dict(zip(self.tasks, weights))

    def after_step(self) -> None:
        pass

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        return {"log_var": self.log_var.detach().clone()}, {"tasks": self.tasks}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        with torch.no_grad():
            self.log_var.copy_(tensors["log_var"])
