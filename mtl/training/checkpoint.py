"""Checkpoints without pickle: tensors in safetensors, everything else in JSON, a manifest of sha256s.

    checkpoints/
      latest.json                 {"step": N, "folder": "step-0000000N"}; written last, atomically
      step-0000000M/              the checkpoint before: the fallback if the latest one does not verify
      step-0000000N/
        model.safetensors config.json vocab.json labels.json   a model folder (load_model reads it)
        optimizer.safetensors     AdamW state flattened: "state.<param index>.<exp_avg|exp_avg_sq|step>"
        rng.safetensors           every rank's torch generator states: "cpu.<rank>" (and "cuda.<rank>")
        weighting.safetensors     the loss weighting's tensors (log-variances, GradNorm weights); may be empty
        state.json                step, best score, patience counter, sampler, task-mix and batch-stream
                                  positions, the weighting's JSON state, optimizer param groups, every
                                  rank's Python and numpy RNG states
        manifest.json             {file: sha256} of every file above; written last

A folder is written under a staging name and renamed into place, and latest.json moves only after that,
so a kill at any moment leaves the previous checkpoint whole. Resuming verifies the manifest: a checkpoint
with a flipped byte, a truncated or a missing file is not resumed from; the one before it is, with a
warning naming what was broken. latest.json may name only a step folder of its own checkpoints folder:
never a path (.., absolute), never a symlink out of it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from mtl.corpora.fetch import sha256_of
from mtl.errors import MtlError
from mtl.model.io import ModelFileError, load_model, load_weights, read_json, replace_folder, save_model
from mtl.model.model import MultiTaskModel

POINTER = "latest.json"
MANIFEST = "manifest.json"
KEEP = 2  # the latest checkpoint and the one before it, to fall back to
_FOLDER = re.compile(r"^step-(\d{8})$")

log = logging.getLogger(__name__)


class CheckpointError(MtlError, ValueError):
    """A checkpoint cannot be resumed from; the message names the file and the reason."""


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


def rng_state(device: torch.device | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """This process's generators: (Python's and numpy's as JSON, torch's CPU one and its CUDA device's)."""
    legacy = np.random.get_state()
    version, internal, gauss = random.getstate()
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [legacy[0], legacy[1].tolist(), *(x.item() if hasattr(x, "item") else x for x in legacy[2:])],
    }
    tensors = {"cpu": torch.get_rng_state()}
    if device is not None and device.type == "cuda":
        tensors["cuda"] = torch.cuda.get_rng_state(device)
    return plain, tensors


def set_rng_state(state: dict, tensors: dict[str, torch.Tensor], device: torch.device | None = None) -> None:
    """Restore what rng_state gave (a CUDA state only onto a CUDA device: a CPU resume of a GPU run reseeds
    nothing there and is not bit-exact, but it runs)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(tensors["cpu"])
    if "cuda" in tensors and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["cuda"], device)


def save_checkpoint(root: Path, model: MultiTaskModel, optimizer: torch.optim.Optimizer, state: dict,
                    weighting: dict[str, torch.Tensor] | None = None,
                    rngs: list[tuple[dict, dict[str, torch.Tensor]]] | None = None) -> Path:
    """Write a checkpoint of step state["step"] and make it the latest; all but the last KEEP are removed.
    weighting: the loss weighting's tensors, saved as weighting.safetensors; rngs: every rank's rng_state()
    (default: this process's)."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state['step']:08d}"
    staged = root / f".staging-{name}"
    shutil.rmtree(staged, ignore_errors=True)
    save_model(model, staged)
    tensors, meta = optimizer_state(optimizer)
    save_file(tensors, staged / "optimizer.safetensors")
    rngs = rngs or [rng_state()]
    save_file({f"{kind}.{rank}": tensor.to("cpu").contiguous() for rank, (_, tensors) in enumerate(rngs)
               for kind, tensor in tensors.items()}, staged / "rng.safetensors")
    save_file({k: v.detach().to("cpu").contiguous() for k, v in (weighting or {}).items()},
              staged / "weighting.safetensors")
    full = {**state, "optimizer": meta, "rng": [plain for plain, _ in rngs]}
    (staged / "state.json").write_text(json.dumps(full), encoding="utf-8")
    files = sorted(path for path in staged.rglob("*") if path.is_file())
    manifest = {path.relative_to(staged).as_posix(): sha256_of(path) for path in files}
    (staged / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    replace_folder(staged, root / name)
    pointer = root / f"{POINTER}.tmp"
    pointer.write_text(json.dumps({"step": state["step"], "folder": name}), encoding="utf-8")
    os.replace(pointer, root / POINTER)
    _remove_old(root, state["step"])
    return root / name


def latest_checkpoint(root: Path) -> Path | None:
    """The newest checkpoint that verifies, from the one latest.json names back; None without latest.json.
    Raises CheckpointError when latest.json is unusable or no checkpoint verifies."""
    pointed = _pointed(root)
    if pointed is None:
        return None
    broken = []
    for folder in _newest_first(root, up_to=pointed):
        try:
            verify(folder)
        except CheckpointError as error:
            log.warning("checkpoint %s does not verify: %s; falling back to the one before it", folder.name, error)
            broken.append(str(error))
            continue
        return folder
    raise CheckpointError(f"no checkpoint in {root} verifies: {'; '.join(broken)}. "
                          "Train without --resume to start afresh")


def verify(folder: Path) -> None:
    """Check every file of the folder against its manifest: the same files, each with its sha256."""
    try:
        manifest = read_json(folder / MANIFEST)  # {file: sha256}
    except ModelFileError as error:
        raise CheckpointError(f"{error} (a checkpoint is complete only with its manifest)") from None
    present = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if not path.is_dir()} - {MANIFEST}
    if present != set(manifest):
        raise CheckpointError(f"{folder}: files {sorted(set(manifest) - present)} missing, "
                              f"{sorted(present - set(manifest))} not in {MANIFEST}")
    for name, expected in sorted(manifest.items()):
        path = folder / name
        if path.is_symlink():
            raise CheckpointError(f"{path}: a symlink; a checkpoint holds only its own files")
        if sha256_of(path) != expected:
            raise CheckpointError(f"{path}: sha256 does not match {MANIFEST} (truncated or modified)")


def load_checkpoint(folder: Path, rank: int = 0) -> tuple[MultiTaskModel, dict[str, torch.Tensor], dict]:
    """(model in train mode, optimizer tensors, state JSON) of a verified checkpoint; set_rng_state and
    load_optimizer_state finish it. state["rng"] and state["torch_rng"] are rank `rank`'s generator states
    (rank 0's for a rank the checkpoint has none of: another number of processes, where resume runs but is
    not bit-exact), state["weighting_tensors"] the weighting's tensors."""
    verify(folder)
    try:
        model = load_model(folder).train()
        tensors = load_weights(folder / "optimizer.safetensors")
        state = read_json(folder / "state.json")
        generators = load_weights(folder / "rng.safetensors")
        state["weighting_tensors"] = load_weights(folder / "weighting.safetensors")
    except ModelFileError as error:  # verified: written so by a bug, not by a crash
        raise CheckpointError(str(error)) from None
    rank = rank if rank < len(state["rng"]) else 0
    state["rng"] = state["rng"][rank]
    state["torch_rng"] = {kind.split(".")[0]: tensor for kind, tensor in generators.items()
                          if kind.split(".")[1] == str(rank)}
    return model, tensors, state


def _pointed(root: Path) -> Path | None:
    """The folder latest.json names, if it is a step folder of `root` itself."""
    pointer = root / POINTER
    if root.is_symlink():
        raise CheckpointError(f"{root}: a symlink; checkpoints stay inside their run folder")
    if not pointer.exists():
        return None
    try:
        name = read_json(pointer).get("folder")
    except ModelFileError as error:
        raise CheckpointError(str(error)) from None
    folder = root / str(name)
    if not (isinstance(name, str) and _FOLDER.match(name)) or folder.is_symlink():
        raise CheckpointError(f"{pointer}: folder {name!r} is not a step-NNNNNNNN folder inside {root}")
    return folder


def _newest_first(root: Path, up_to: Path) -> list[Path]:
    """`up_to` and the step folders before it, newest first (symlinks are never checkpoints)."""
    older = [path for path in root.iterdir() if _FOLDER.match(path.name) and path.name < up_to.name
             and path.is_dir() and not path.is_symlink()]
    return [up_to, *sorted(older, reverse=True)]


def _remove_old(root: Path, step: int) -> None:
    """Keep the checkpoint of `step` and the KEEP - 1 before it; remove the rest, staging leftovers too."""
    older = sorted(int(match.group(1)) for path in root.iterdir()
                   if (match := _FOLDER.match(path.name)) and int(match.group(1)) < step)
    keep = {f"step-{s:08d}" for s in [*older[len(older) - (KEEP - 1):], step]}
    for path in root.iterdir():
        if path.name.startswith(("step-", ".staging-")) and path.name not in keep:
            if path.is_symlink():
                path.unlink()
            else:
                shutil.rmtree(path, ignore_errors=True)

