"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

    checkpoints/
      latest.json                 {"step": N, "folder": "step-0000000N"}; written last, atomically
      step-0000000N/
        model.safetensors config.json vocab.json labels.json   a model folder (load_model reads it)
        optimizer.safetensors     AdamW state flattened: "state.<param index>.<exp_avg|exp_avg_sq|step>"
        rng.safetensors           torch's CPU generator state
        weighting.safetensors     the loss weighting's tensors (log-variances, GradNorm weights); may be empty
        state.json                step, best score, patience counter, sampler, task-mix and batch-stream
                                  positions, the weighting's JSON state, optimizer param groups, Python
                                  and numpy RNG states

A folder is written under a staging name and renamed into place, and latest.json moves only after that,
so a kill at any moment leaves the previous checkpoint whole.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from mtl.model.io import load_model, replace_folder, save_model
from mtl.model.model import MultiTaskModel


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, JSON) that together hold optimizer.state_dict()."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{key}"] = value.detach().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_state() -> dict:
    legacy = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [legacy[0], legacy[1].tolist(), *(x.item() if hasattr(x, "item") else x for x in legacy[2:])],
    }


def set_rng_state(state: dict, torch_state: torch.Tensor) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(torch_state)


def save_checkpoint(root: Path, model: MultiTaskModel, optimizer: torch.optim.Optimizer, state: dict,
                    weighting: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a checkpoint of step state["step"] and make it the latest; older ones are removed.
    weighting: the loss weighting's tensors, saved as weighting.safetensors."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state['step']:08d}"
    staged = root / f".staging-{name}"
    shutil.rmtree(staged, ignore_errors=True)
    save_model(model, staged)
    tensors, meta = optimizer_state(optimizer)
    save_file(tensors, staged / "optimizer.safetensors")
    save_file({"torch": torch.get_rng_state()}, staged / "rng.safetensors")
    save_file({k: v.detach().contiguous() for k, v in (weighting or {}).items()}, staged / "weighting.safetensors")
    full = {**state, "optimizer": meta, "rng": rng_state()}
    (staged / "state.json").write_text(json.dumps(full), encoding="utf-8")
    replace_folder(staged, root / name)
    pointer = root / "latest.json.tmp"
    pointer.write_text(json.dumps({"step": state["step"], "folder": name}), encoding="utf-8")
    os.replace(pointer, root / "latest.json")
    for old in root.iterdir():
        if old.name != name and old.name.startswith(("step-", ".staging-")):
            shutil.rmtree(old, ignore_errors=True)
    return root / name


def latest_checkpoint(root: Path) -> Path | None:
    pointer = root / "latest.json"
    if not pointer.exists():
        return None
    return root / json.loads(pointer.read_text(encoding="utf-8"))["folder"]


def load_checkpoint(folder: Path) -> tuple[MultiTaskModel, dict[str, torch.Tensor], dict]:
    """(model in train mode, optimizer tensors, state JSON); restore_rng and load_optimizer_state finish it.
    state["torch_rng"] and state["weighting_tensors"] hold the other two tensor files."""
    model = load_model(folder).train()
    tensors = load_file(folder / "optimizer.safetensors")
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    state["torch_rng"] = load_file(folder / "rng.safetensors")["torch"]
    weighting = folder / "weighting.safetensors"  # absent in checkpoints older than the weighting methods
    state["weighting_tensors"] = load_file(weighting) if weighting.exists() else {}
    return model, tensors, state
