"""The training section (sampling, loss weighting, the loop's knobs) and the single-task baselines'."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mtl.config.base import Strict



class SamplerConfig(Strict):
    """Which task a one-task step trains (mtl/training/samplers.py). window: the sampling "epoch"."""

    kind: Literal["proportional", "temperature", "uniform", "annealed", "explicit"] = "uniform"
    temperature: float = Field(2.0, gt=0)  # p(task) ~ n_train ** (1/T): 1 = proportional, large -> uniform
    anneal_from: float = Field(1.0, gt=0)  # annealed: T of the first window (1 = proportional)
    anneal_to: float = Field(5.0, gt=0)  # annealed: T of the last window; 1 -> 5 is Stickland & Murray 2019
    probabilities: dict[str, float] = {}  # explicit: task -> p, naming every task, summing to 1
    window: int = Field(500, ge=1)  # steps per window: one annealing stage and one task_mix.csv group

    @model_validator(mode="after")
    def _check_probabilities(self) -> SamplerConfig:
        if self.kind != "explicit":
            if self.probabilities:
                raise ValueError(f"probabilities are for kind explicit, not {self.kind!r}")
            return self
        if not self.probabilities:
            raise ValueError("kind explicit needs probabilities: {task: p} for every task")
        if any(not p > 0 for p in self.probabilities.values()):
            raise ValueError(f"probabilities must be > 0 (drop the task from tasks instead): {self.probabilities}")
        if abs(sum(self.probabilities.values()) - 1.0) > 1e-6:
            raise ValueError(f"probabilities must sum to 1, not {sum(self.probabilities.values()):.6g}")
        return self


class WeightingConfig(Strict):
    """How a step's task losses become one update (mtl/training/weighting/). static takes one sampled task
    per step; the others take one batch of every task per step, so they need sampler kind uniform."""

    kind: Literal["static", "uncertainty", "dwa", "gradnorm", "pcgrad"] = "static"
    temperature: float = Field(2.0, gt=0)  # dwa: w ~ exp(r / T) (Liu et al. 2019 use 2)
    window: int = Field(50, ge=1)  # dwa: steps whose mean loss is one point of the loss history (its "epoch")
    alpha: float = Field(1.5, ge=0)  # gradnorm: pull toward equal training rates (Chen et al. 2018: 0.12-3)


class TrainingConfig(Strict):
    seed: int = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")  # auto: CUDA when available, else CPU
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # the forward pass under autocast (mtl/training/device.py)
    compile: bool = False  # torch.compile the encoder(s): for transformer-shaped encoders on a GPU; on the CPU the
                           # compilation of every batch shape costs more than it saves (79 s for a tiny model)
    # data-parallel processes on this machine (torchrun; mtl/training/distributed.py): one, right for one GPU; the
    # shipped params.yaml sets 2 for the 2-core CPU machines
    processes: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1)  # torch threads per process; None = the cores / processes
    batch_size: int = Field(2000, ge=1)  # per step, one task's batch of this many batch_unit (shared by processes)
    batch_unit: Literal["tokens", "sentences"] = "tokens"  # tokens: padded tokens (B x T) per batch
    pool_size: int = Field(2048, ge=1)  # sentences shuffled together then sorted by length; 1 = no bucketing
    prefetch: int = Field(2, ge=0)  # steps' batches a background thread prepares ahead (training/prefetch.py); 0: none
    sampler: SamplerConfig = SamplerConfig()
    loss_weights: dict[str, float] = {}  # task -> static loss weight λ; a task not listed weighs 1.0
    weighting: WeightingConfig = WeightingConfig()  # static (λ above), uncertainty, dwa, gradnorm or pcgrad
    lr: float = Field(3e-3, gt=0)  # AdamW peak learning rate
    pretrained_lr: float | None = Field(None, gt=0)  # peak lr of a fine-tuned pretrained encoder's weights; None: lr
    weight_decay: float = Field(0.01, ge=0)  # on weight matrices only: not embeddings, biases, CRF, queries
    warmup_steps: int = Field(200, ge=0)  # linear warmup from 0 to lr
    schedule: Literal["linear", "cosine", "constant"] = "linear"  # decay after warmup, to min_lr at max_steps
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    clip: float = Field(5.0, gt=0)  # max global gradient norm
    max_steps: int = Field(3000, ge=1)
    max_minutes: float | None = Field(30.0, gt=0)  # wall-clock guard: evaluate, checkpoint and stop past it
    eval_every: int = Field(500, ge=1)  # steps between dev evaluations (also at the last step)
    patience: int = Field(8, ge=1)  # evaluations without a better dev score before stopping early
    checkpoint_every: int = Field(500, ge=1)  # steps between checkpoints (also at the end)
    eval_batch_size: int = Field(128, ge=1)  # examples per prediction batch
    progress_seconds: float = Field(60.0, gt=0)  # a progress line (step, steps/s, ETA, last dev scores) this often

    @model_validator(mode="after")
    def _check_weighting(self) -> TrainingConfig:
        kind = self.weighting.kind
        if kind != "static" and self.sampler.kind != "uniform":
            raise ValueError(f"weighting {kind!r} trains one batch of every task per step, so the sampler "
                             f"must be uniform, not {self.sampler.kind!r}")
        if self.loss_weights and kind not in ("static", "pcgrad"):
            raise ValueError(f"weighting {kind!r} learns its own task weights: leave loss_weights empty")
        if self.processes > 1:
            refuse_many_processes(kind)
        return self


SINGLE_PROCESS_WEIGHTINGS = ("gradnorm", "pcgrad", "dwa")  # each rank would weigh or project its own share's
                                                          # task gradients (or loss history) differently


def refuse_many_processes(weighting: str) -> None:
    if weighting in SINGLE_PROCESS_WEIGHTINGS:
        raise ValueError(f"weighting {weighting!r} needs every task's whole-batch gradients (or losses) in one "
                         "process: train with one process, or with weighting static or uncertainty")


class BaselineConfig(Strict):
    """Single-task baselines (`mtl baseline`, mtl/baseline.py) and the transfer report (`mtl transfer`)."""

    # examples: as many steps as the multi-task run's sampler plans for that task, so each model sees as
    # many of the task's examples as the multi-task model did: the difference is what sharing adds.
    # steps: every single-task model trains with training.max_steps (and the same time guard and early
    # stopping) as the multi-task model had for all tasks: the task trained alone to its best, N x compute.
    budget: Literal["steps", "examples"] = "examples"
    n_bootstrap: int = Field(2000, ge=100)  # paired resamples per task: multi-task minus single-task
    confidence: float = Field(0.95, gt=0, lt=1)  # of each task's interval (no correction across tasks)
    seed: int = 0
    timing_repeats: int = Field(3, ge=1)  # prediction timing: best of this many, models side by side
    timing_sentences: int | None = Field(None, ge=1)  # test sentences timed, taken round-robin by task; None: all
