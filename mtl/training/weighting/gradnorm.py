"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018): learned task weights w_t that balance the
tasks' gradient norms on the last shared layer W, scaled by how fast each task trains.

    G_t = || ∇_W w_t L_t ||,   r_t = (L_t / L_t(0)) / mean_i (L_i / L_i(0))     (a slow task has r_t > 1)
    L_grad = sum_t | G_t - mean_i(G_i) r_t^alpha |     (the target held constant), differentiated in w only

The network itself takes the gradient of sum_t w_t L_t. After each optimizer step the weights are
renormalised to sum to k. L_t(0) is the loss of the first step. W: what the sharing scheme names
(`model.last_shared_parameters()`: the shared encoder).
"""

from __future__ import annotations

import torch
from torch import nn

from mtl.config import TrainingConfig


def shared_layer(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.last_shared_parameters() if p.requires_grad]


def grad_norm(loss: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor:
    """|| ∇_params loss ||, keeping the graph for the backward pass that follows."""
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.sqrt(sum((g * g).sum() for g in grads if g is not None))


def gradnorm_weight_grad(
    weights: torch.Tensor, norms: torch.Tensor, ratios: torch.Tensor, alpha: float
) -> torch.Tensor:
    """d L_grad / d w: weights w (k,), unweighted gradient norms ||∇_W L_t|| (k,), loss ratios L_t / L_t(0) (k,)."""
    w = weights.detach().requires_grad_()
    g = w * norms  # G_t: the norm of the weighted task gradient
    target = (g.mean() * (ratios / ratios.mean()) ** alpha).detach()
    return torch.autograd.grad((g - target).abs().sum(), w)[0]


class GradNorm:
    every_task = True

    def __init__(self, cfg: TrainingConfig, tasks: list[str], device: torch.device | str = "cpu") -> None:
        self.tasks, self.alpha = tasks, cfg.weighting.alpha
        self.weights = nn.Parameter(torch.ones(len(tasks), device=device))
        self.initial: list[float] | None = None  # L_t(0)

    def parameters(self) -> list[nn.Parameter]:
        return [self.weights]

    def backward(self, losses: dict[str, torch.Tensor], model: nn.Module, scale: float = 1.0
                 ) -> tuple[float, dict[str, float]]:
        stacked = torch.stack([losses[t].float() for t in self.tasks])
        if self.initial is None:
            self.initial = stacked.detach().tolist()
        shared = shared_layer(model)
        norms = torch.stack([grad_norm(losses[t], shared) for t in self.tasks]).detach()
        ratios = stacked.detach() / torch.tensor(self.initial, device=stacked.device)
        self.weights.grad = gradnorm_weight_grad(self.weights, norms, ratios, self.alpha) * scale
        used = self.weights.detach().clone()
        total = (used * stacked).sum()
        (total * scale if scale != 1.0 else total).backward()
        return total.item(), dict(zip(self.tasks, used.tolist()))

    def after_step(self) -> None:
        with torch.no_grad():  # stay positive, and sum to k as in the paper
            self.weights.clamp_(min=1e-4)
            self.weights.mul_(len(self.tasks) / self.weights.sum())

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        return {"weights": self.weights.detach().clone()}, {"tasks": self.tasks, "initial": self.initial}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        with torch.no_grad():
            self.weights.copy_(tensors["weights"])
        self.initial = meta["initial"]
