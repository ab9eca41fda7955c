"""Dynamic weight average (Liu, Johns & Davison, CVPR 2019, "End-to-end multi-task learning with attention").

    w_t(e) = k exp(r_t(e-1) / T) / sum_i exp(r_i(e-1) / T),   r_t(e-1) = L_t(e-1) / L_t(e-2)

L_t(e) is task t's mean loss over window e (weighting.window steps; the paper's epoch). A task whose loss
fell least in the last window gets more weight. Windows 1 and 2 have no history: all weights 1. The state
(this window's loss sums, the last two window means, the weights) is plain floats: JSON, exact on resume.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mtl.config import TrainingConfig
from mtl.training.weighting.static import weighted_sum


def dwa_weights(last: list[float], before_last: list[float], temperature: float) -> list[float]:
    """k softmax(r / T) of the rates r = last / before_last (mean losses of the two previous windows)."""
    rates = [a / b for a, b in zip(last, before_last)]
    top = max(rates)  # shifted, so exp never overflows; the softmax is unchanged
    e = [math.exp((r - top) / temperature) for r in rates]
    return [len(e) * x / sum(e) for x in e]


class DWA:
    every_task = True

    def __init__(self, cfg: TrainingConfig, tasks: list[str], device: torch.device | str = "cpu") -> None:
        self.tasks, self.window, self.temperature = tasks, cfg.weighting.window, cfg.weighting.temperature
        self.weights = [1.0] * len(tasks)
        self.sums, self.count = [0.0] * len(tasks), 0
        self.history: list[list[float]] = []  # window means, newest first; at most two

    def parameters(self) -> list[nn.Parameter]:
        return []

    def backward(self, losses: dict[str, torch.Tensor], model: nn.Module, scale: float = 1.0
                 ) -> tuple[float, dict[str, float]]:
        weights = dict(zip(self.tasks, self.weights))
        total = weighted_sum({t: losses[t] for t in self.tasks}, weights)
        (total * scale if scale != 1.0 else total).backward()
        self._record([losses[t].item() for t in self.tasks])
        return total.item(), weights

    def _record(self, values: list[float]) -> None:
        self.sums = [s + v for s, v in zip(self.sums, values)]
        self.count += 1
        if self.count == self.window:
            self.history = [[s / self.count for s in self.sums], *self.history][:2]
            self.sums, self.count = [0.0] * len(self.tasks), 0
            if len(self.history) == 2:
                self.weights = dwa_weights(self.history[0], self.history[1], self.temperature)

    def after_step(self) -> None:
        pass

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        return {}, {"weights": self.weights, "sums": self.sums, "count": self.count, "history": self.history}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        self.weights, self.sums, self.count = list(meta["weights"]), list(meta["sums"]), int(meta["count"])
        self.history = [list(h) for h in meta["history"]]
