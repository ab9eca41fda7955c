"""Task attention over the shared encoder's layers (model.sharing: attention): one shared encoder, and each
task reads its own softmax-weighted mix of the encoder's layers, ELMo's scalar mix (Peters et al., "Deep
contextualized word representations", NAACL 2018, eq. 1) learned per task:

    states_t = γ_t sum_j softmax(w_t)_j h_j      h_j: layer j's (B, T, H) states, j = 1..n_layers

so a tagging task can lean on a lower layer and a classification task on the top one. w_t starts at 0 (an
even mix), γ_t at 1. Attention over the states themselves is left to the heads: a classification head
already pools the states with a query of its own per task (mtl/tasks/layers.py AttentionPool), and a
tagging head reads every state. The encoder runs once per batch (forward(texts, all_layers=True)) for every
task, and each of a pair's texts is mixed alike. No auxiliary loss. Parts: encoder, mix ({task: ScalarMix}).
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


class ScalarMix(nn.Module):
    """One task's mix of the layers: γ sum_j softmax(w)_j h_j."""

    def __init__(self, n_layers: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(n_layers))  # w: an even mix to start
        self.scale = nn.Parameter(torch.ones(()))  # γ

    def layer_weights(self) -> torch.Tensor:
        return self.weights.softmax(dim=0)  # (L,), sums to 1

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(layers)  # (L, B, T, H)
        return self.scale * (self.layer_weights().view(-1, 1, 1, 1) * stacked).sum(dim=0)  # (B, T, H)


def mix_weights(model: nn.Module) -> dict[str, list[float]]:
    """{task: its softmax weight per layer, lowest layer first}: what each task reads."""
    return {task: mix.layer_weights().tolist() for task, mix in model.mix.items()}


def options(model_cfg: ModelConfig) -> dict:
    return {}


def build(config: MultiTaskConfig, *, fresh: bool) -> tuple[dict[str, nn.Module], int]:
    encoder = get_encoder(config.encoder).build(config, fresh=fresh)
    mix = nn.ModuleDict({task: ScalarMix(encoder.n_layers) for task in config.tasks})
    return {"encoder": encoder, "mix": mix}, encoder.output_size


def forward(model: nn.Module, batch: Batch, tasks: list[str], auxiliary: bool
            ) -> tuple[dict[str, Any], torch.Tensor | None]:
    layers = model.encoder(batch.texts, all_layers=True)  # [layer][text] (B, T, H), once for every task
    by_text = list(zip(*layers))  # [text][layer]
    outputs = {}
    for task in tasks:
        mix = model.mix[task]
        outputs[task] = model.heads[task]([Encoded(mix(list(text_layers)), text.mask)
                                           for text_layers, text in zip(by_text, batch.texts)])
    return outputs, None


def shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    return list(model.encoder.parameters())


def task_parameters(model: nn.Module, task: str) -> list[nn.Parameter]:
    return list(model.mix[task].parameters())


def last_shared_parameters(model: nn.Module) -> list[nn.Parameter]:
    return list(model.encoder.parameters())  # the encoder, whole (as hard): every layer is read by the mixes
