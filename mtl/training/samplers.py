"""Per-step task sampling: which task's batch the next training step takes, and the mix it realised.

    proportional  p(task) ~ n            big tasks dominate (SST-2 would take ~3/4 of the steps)
    temperature   p(task) ~ n ** (1/T)   T=1 is proportional, T -> infinity is uniform; T=2 lifts small tasks
    uniform       p(task) = 1/k          small tasks repeat their epochs many times over
    annealed      p(task) ~ n ** alpha   alpha = 1/T moves linearly, window by window, from 1/T_start to
                                         1/T_end. T 1 -> 5 is Stickland & Murray (2019)'s annealed sampling,
                                         alpha = 1 - 0.8 (e-1)/(E-1): proportional first, near uniform last
    explicit      p(task) from params    {task: p}, covering every task, summing to 1

A "window" (the sampling epoch) is `sampler.window` consecutive steps: window e (1-based) holds steps
(e-1)*W+1 .. e*W, and a run of max_steps has E = ceil(max_steps / W) of them. A fixed number of steps, not a
pass over the largest task, so the schedule is known before training and does not depend on batch sizes.
The annealed schedule is constant within a window, and task_mix.csv gets one group of rows per window.
"""

from __future__ import annotations

import math

import numpy as np

from mtl.config import SamplerConfig


def task_probabilities(
    sizes: dict[str, int], kind: str, temperature: float = 1.0, probabilities: dict[str, float] | None = None
) -> dict[str, float]:
    """sizes: training examples per task. The fixed kinds; annealed is temperature at each window's T."""
    n = np.array([sizes[t] for t in sizes], dtype=np.float64)
    if kind == "proportional":
        weights = n
    elif kind == "temperature":
        weights = n ** (1.0 / temperature)
    elif kind == "uniform":
        weights = np.ones_like(n)
    elif kind == "explicit":
        probabilities = probabilities or {}
        if set(probabilities) != set(sizes):
            raise ValueError(f"training.sampler.probabilities must name exactly the tasks {sorted(sizes)}; "
                             f"missing {sorted(set(sizes) - set(probabilities))}, "
                             f"unknown {sorted(set(probabilities) - set(sizes))}")
        weights = np.array([probabilities[t] for t in sizes], dtype=np.float64)  # sum 1 +- 1e-6 (config)
    else:
        raise ValueError(f"unknown sampler kind {kind!r}: proportional, temperature, uniform or explicit "
                         "(annealed is temperature per window: TaskSampler)")
    return dict(zip(sizes, (weights / weights.sum()).tolist()))


def annealed_temperature(window: int, n_windows: int, t_start: float, t_end: float) -> float:
    """T of window `window` (1-based) of n_windows: alpha = 1/T linear in the window, 1/t_start to 1/t_end."""
    progress = (window - 1) / (n_windows - 1) if n_windows > 1 else 0.0
    alpha = 1.0 / t_start + (1.0 / t_end - 1.0 / t_start) * progress
    return 1.0 / alpha


class TaskSampler:
    """Draws one task per step, from the probabilities of the step's window, with its own generator."""

    def __init__(self, sizes: dict[str, int], cfg: SamplerConfig, *, max_steps: int, seed: int = 0) -> None:
        self.sizes, self.cfg = dict(sizes), cfg
        self.tasks = list(sizes)
        self.n_windows = max(1, math.ceil(max_steps / cfg.window))
        self._cache: dict[int, tuple[dict[str, float], np.ndarray]] = {}
        self._rng = np.random.default_rng(seed)
        self.probabilities_at(1)  # an invalid configuration fails now, not at the first step

    def window(self, step: int) -> int:
        return (step - 1) // self.cfg.window + 1

    def probabilities_at(self, step: int) -> dict[str, float]:
        return self._window_probabilities(self.window(step))[0]

    def sample(self, step: int) -> str:
        """The task of training step `step` (1-based)."""
        p = self._window_probabilities(self.window(step))[1]
        return self.tasks[self._rng.choice(len(self.tasks), p=p)]

    def _window_probabilities(self, window: int) -> tuple[dict[str, float], np.ndarray]:
        if window not in self._cache:
            cfg, kind, temperature = self.cfg, self.cfg.kind, self.cfg.temperature
            if kind == "annealed":
                window_index = min(window, self.n_windows)
                kind = "temperature"
                temperature = annealed_temperature(window_index, self.n_windows, cfg.anneal_from, cfg.anneal_to)
            probabilities = task_probabilities(self.sizes, kind, temperature, cfg.probabilities)
            self._cache[window] = probabilities, np.array(list(probabilities.values()))
        return self._cache[window]

    def state_dict(self) -> dict:
        return {"rng": self._rng.bit_generator.state}  # plain ints and strings: JSON as it is

    def load_state_dict(self, state: dict) -> None:
        self._rng.bit_generator.state = state["rng"]


class TaskMix:
    """Counts the batches each task trains in the current window; a closed window becomes task_mix.csv rows
    (step = the window's last step, or the last step of a run that stopped inside it)."""

    def __init__(self, tasks: list[str]) -> None:
        self.counts = dict.fromkeys(tasks, 0)

    def record(self, tasks: list[str]) -> None:
        for task in tasks:
            self.counts[task] += 1

    def close(self, step: int, window: int, expected: dict[str, float]) -> list[list]:
        """The window's rows [step, window, task, batches, fraction, expected]; counting starts again."""
        total = sum(self.counts.values()) or 1
        rows = [[step, window, task, n, f"{n / total:.6g}", f"{expected[task]:.6g}"] for task, n in self.counts.items()]
        self.counts = dict.fromkeys(self.counts, 0)
        return rows

    def state_dict(self) -> dict:
        return {"counts": dict(self.counts)}

    def load_state_dict(self, state: dict) -> None:
        self.counts = {task: int(state["counts"][task]) for task in self.counts}
