"""One optimisation step: the optimizer, the learning rate, a task's next batch, and the step itself.

A step trains the batches it is given (one sampled task's, or one of every task's: the weighting method
decides, see weighting/__init__.py): each batch is encoded and scored by its own head, the method turns
the task losses into gradients, the global gradient norm is clipped and AdamW steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from mtl.config import TrainingConfig
from mtl.model.batch import Batch, collate
from mtl.model.model import MultiTaskModel
from mtl.tasks import get_kind, kind_of
from mtl.training.batching import BucketBatches
from mtl.training.data import TaskData
from mtl.training.device import autocast
from mtl.training.distributed import World, average_gradients, share
from mtl.training.weighting import Weighting


def make_optimizer(model: nn.Module, cfg: TrainingConfig, extra: Iterable[nn.Parameter] = ()) -> torch.optim.AdamW:
    """extra: the weighting method's own parameters (log-variances, GradNorm weights), never decayed.

    Every group carries lr_scale, its peak learning rate over cfg.lr: 1 except for the weights of a
    pretrained encoder when cfg.pretrained_lr is set, so fresh heads can learn at a rate that would wreck
    pretrained weights (the usual fine-tuning recipe: heads ~1e-3, the encoder ~5e-5)."""
    # Weight decay on weight matrices only: not biases, the CRF or the queries, and not embeddings,
    # whose rare rows would shrink at every step they are not even used.
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    pretrained = {id(p) for m in model.modules() if hasattr(m, "pretrained_parameters")
                  for p in m.pretrained_parameters()}
    pretrained_scale = (cfg.pretrained_lr or cfg.lr) / cfg.lr
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for p in model.parameters():
        decay = p.dim() >= 2 and id(p) not in embeddings
        scale = pretrained_scale if id(p) in pretrained else 1.0
        groups.setdefault((decay, scale), []).append(p)
    decayed_first = sorted(groups.items(), key=lambda group: not group[0][0])  # the order before lr_scale
    param_groups = [{"params": params, "weight_decay": cfg.weight_decay if decay else 0.0, "lr_scale": scale}
                    for (decay, scale), params in decayed_first]
    extra = list(extra)
    if extra:  # a group of its own only when there is one
        param_groups.append({"params": extra, "weight_decay": 0.0, "lr_scale": 1.0})
    return torch.optim.AdamW(param_groups, lr=cfg.lr)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """lr for this step, scaled per group (make_optimizer's lr_scale)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def learning_rate(step: int, cfg: TrainingConfig) -> float:
    """Linear warmup to cfg.lr, then linear or cosine decay to lr * min_lr_ratio at max_steps."""
    if step <= cfg.warmup_steps:
        return cfg.lr * step / max(1, cfg.warmup_steps)
    if cfg.schedule == "constant":
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    low = cfg.lr * cfg.min_lr_ratio
    if cfg.schedule == "cosine":
        return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))
    return low + (cfg.lr - low) * (1 - progress)


def next_batch(data: TaskData, stream: BucketBatches, world: World = World()) -> Batch:
    """The task's next batch of examples (this rank's share of it), on the CPU, with its targets."""
    index = share(next(stream), world)
    examples = data.examples_at(index)  # read and encoded now (data.py)
    batch = collate(examples, index=index)
    batch.task, batch.labels, batch.task_options = data.name, data.labels, data.options_dict
    targets = [example.target for example in examples]
    batch.targets = kind_of(data.options).collate_targets(targets, batch.texts[0].words.size(1))
    return batch


def train_step(
    model: MultiTaskModel, optimizer: torch.optim.Optimizer, batches: dict[str, Batch], kinds: dict[str, str],
    weighting: Weighting, clip: float, precision: str = "fp32", scaler: torch.amp.GradScaler | None = None,
    world: World = World(),
) -> tuple[dict[str, float], float, dict[str, float]]:
    """One AdamW step on {task: batch} (on the model's device); (task losses, the method's objective, the task
    weights it used). precision: the forward pass under autocast; scaler: fp16's loss scale; world: the
    processes whose gradients are averaged before the step (each trained its share of the batch)."""
    model.train()
    device = next(model.parameters()).device
    with autocast(device, precision):
        losses = {task: get_kind(kinds[task]).loss(model(batch, [task])[task], batch) + model.auxiliary_loss()
                  for task, batch in batches.items()}  # + the sharing scheme's penalties on that pass (0.0: hard)
    optimizer.zero_grad(set_to_none=True)
    total, weights = weighting.backward(losses, model, scaler.get_scale() if scaler is not None else 1.0)
    average_gradients([p for group in optimizer.param_groups for p in group["params"]], world)
    if scaler is not None:
        scaler.unscale_(optimizer)  # clip the true gradients
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    if scaler is not None:
        scaler.step(optimizer)  # skipped, with a smaller scale next time, when a gradient overflowed
        scaler.update()
    else:
        optimizer.step()
    weighting.after_step()
    return {task: loss.item() for task, loss in losses.items()}, total, weights
