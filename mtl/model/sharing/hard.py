"""Hard parameter sharing (model.sharing: hard, the default): one encoder every task reads, a head per task
(Caruana, "Multitask Learning", Machine Learning 1997). The encoder runs once per batch, however many tasks
are asked. Parts: encoder. No auxiliary loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.model.batch import Batch
from mtl.model.encoders import get_encoder

if TYPE_CHECKING:
    from mtl.model.model import MultiTaskConfig, MultiTaskModel


def options(model_cfg: ModelConfig) -> dict:
    return {}


def build(config: MultiTaskConfig, *, fresh: bool) -> tuple[dict[str, nn.Module], int]:
    encoder = get_encoder(config.encoder).build(config, fresh=fresh)
    return {"encoder": encoder}, encoder.output_size


def forward(model: MultiTaskModel, batch: Batch, tasks: list[str], auxiliary: bool
            ) -> tuple[dict[str, Any], torch.Tensor | None]:
    states = model.encoder(batch)  # (B, T, H)
    return {task: model.heads[task](states, batch.mask) for task in tasks}, None


def shared_parameters(model: MultiTaskModel) -> list[nn.Parameter]:
    return list(model.encoder.parameters())


def task_parameters(model: MultiTaskModel, task: str) -> list[nn.Parameter]:
    return []


def last_shared_parameters(model: MultiTaskModel) -> list[nn.Parameter]:
    # The whole encoder: what GradNorm used before models named a layer, so GradNorm runs are unchanged.
    return list(model.encoder.parameters())
