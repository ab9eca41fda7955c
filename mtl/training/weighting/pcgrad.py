"""PCGrad (Yu, Kumar, Gupta, Levine, Hausman & Finn, NeurIPS 2020, "Gradient surgery for multi-task learning").

Each task's gradient g_i (of λ_i L_i, over all model parameters, as the paper's code does) is projected, for
every other task j in a random order, onto the normal plane of g_j when they conflict (g_i · g_j < 0):
g_i -= (g_i · g_j) / |g_j|² g_j. The update is the sum of the projected gradients. Heads are untouched in
effect (other tasks' gradients are zero there); the shared encoder is where the surgery happens. The
random order comes from the method's own generator, whose state is saved for exact resume.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mtl.config import TrainingConfig


def pcgrad_project(grads: list[torch.Tensor], rng: np.random.Generator) -> list[torch.Tensor]:
    """Each g_i (flat, one per task) projected off every conflicting original g_j, the j in random order."""
    projected = []
    for i, grad in enumerate(grads):
        g = grad.clone()
        for j in rng.permutation(len(grads)).tolist():
            if j == i:
                continue
            dot = torch.dot(g, grads[j])
            if dot < 0:
                g -= dot / torch.dot(grads[j], grads[j]) * grads[j]
        projected.append(g)
    return projected


def flat_grad(loss: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])


class PCGrad:
    every_task = True

    def __init__(self, cfg: TrainingConfig, tasks: list[str], device: torch.device | str = "cpu") -> None:
        self.tasks = tasks
        self.weights = {task: cfg.loss_weights.get(task, 1.0) for task in tasks}
        self.rng = np.random.default_rng([cfg.seed, 0x9C6])  # its own stream: the global RNGs stay untouched

    def parameters(self) -> list[nn.Parameter]:
        return []

    def backward(self, losses: dict[str, torch.Tensor], model: nn.Module, scale: float = 1.0
                 ) -> tuple[float, dict[str, float]]:
        params = [p for p in model.parameters() if p.requires_grad]
        total = sum(self.weights[t] * losses[t].item() for t in self.tasks)
        # Each task's loss has its own forward graph (its own batch), so each is differentiated once.
        grads = [flat_grad(self.weights[t] * losses[t], params) for t in self.tasks]
        merged = torch.stack(pcgrad_project(grads, self.rng)).sum(dim=0)
        start = 0
        for p in params:
            p.grad = merged[start : start + p.numel()].view_as(p) * scale
            start += p.numel()
        return total, dict(self.weights)

    def after_step(self) -> None:
        pass

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        return {}, {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        self.rng.bit_generator.state = meta["rng"]
