"""Hard parameter sharing (model.sharing: hard, the default): one encoder every task reads, a head per task
(Caruana, "Multitask Learning", Machine Learning 1997). The encoder runs once per batch, however many tasks
are asked. Parts: encoder. No auxiliary loss.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.model.batch import Batch
from mtl.model.encoders import get_encoder
from mtl.model.spec import MultiTaskConfig
from mtl.tasks.kind import Encoded


def options(model_cfg: ModelConfig) -> dict:
    return {}


def build(config: MultiTaskConfig, *, fresh: bool) -> tuple[dict[str, nn.Module], int]:
    encoder = get_encoder(config.encoder).build(config, fresh=fresh)
    return {"encoder": encoder}, encoder.output_size


def forward(model: nn.Module, batch: Batch, tasks: list[str], auxiliary: bool
            ) -> tuple[dict[str, Any], torch.Tensor | None]:
    encoded = [Encoded(states, text.mask) for states, text in zip(model.encoder(batch.texts), batch.texts)]
    return {task: model.heads[task](encoded) for task in tasks}, None


def shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    return list(model.encoder.parameters())


def task_parameters(model: nn.Module, task: str) -> list[nn.Parameter]:
    return []


def last_shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    # The whole encoder: what GradNorm used before models named a layer, so GradNorm runs are unchanged.
    return list(model.encoder.parameters())
