"""Per-step task sampling: which task's batch the next training step takes.

    proportional  p(task) ~ n            big tasks dominate (SST-2 would take ~3/4 of the steps)
    temperature   p(task) ~ n ** (1/T)   T=1 is proportional, T -> infinity is uniform; T=2 lifts small tasks
    uniform       p(task) = 1/k          small tasks repeat their epochs many times over
"""

from __future__ import annotations

import numpy as np


def task_probabilities(sizes: dict[str, int], kind: str, temperature: float = 1.0) -> dict[str, float]:
    """sizes: training examples per task."""
    n = np.array([sizes[t] for t in sizes], dtype=np.float64)
    if kind == "proportional":
        weights = n
    elif kind == "temperature":
        weights = n ** (1.0 / temperature)
    elif kind == "uniform":
        weights = np.ones_like(n)
    else:
        raise ValueError(f"unknown sampler kind {kind!r}: proportional, temperature or uniform")
    return dict(zip(sizes, (weights / weights.sum()).tolist()))


class TaskSampler:
    """Draws one task per step from fixed probabilities with its own generator (its state is resumable)."""

    def __init__(
        self, sizes: dict[str, int], kind: str = "temperature", temperature: float = 2.0, seed: int = 0
    ) -> None:
        self.probabilities = task_probabilities(sizes, kind, temperature)
        self.tasks = list(self.probabilities)
        self._p = np.array(list(self.probabilities.values()))
        self._rng = np.random.default_rng(seed)

    def sample(self) -> str:
        return self.tasks[self._rng.choice(len(self.tasks), p=self._p)]

    def state_dict(self) -> dict:
        return {"rng": self._rng.bit_generator.state}  # plain ints and strings: JSON as it is

    def load_state_dict(self, state: dict) -> None:
        self._rng.bit_generator.state = state["rng"]
