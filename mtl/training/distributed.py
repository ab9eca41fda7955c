"""Data-parallel training over several processes (torchrun; gloo on the CPU, NCCL on CUDA).

Every process (rank) holds the whole model. All ranks draw the same task at each step (the sampler is seeded
identically) and build the same global batch from the same stream; each takes its own contiguous share of
it, and after the backward pass the gradients are averaged across ranks (one all-reduce of the flattened
gradients), as DistributedDataParallel does. So with the same seed every rank holds the same weights after
every step, which `same_weights` checks at each checkpoint. Rank 0 alone evaluates, logs, checkpoints and
saves the model; its decisions (stop, best) are broadcast.

Not wrapped in torch's DistributedDataParallel: a step trains one task's head while the others' parameters get
no gradient, and the CRF's parameters are used in the loss, outside forward; both break DDP's reducer.

Launch: `mtl train --nproc N` (or training.processes in params, which the DVC stage runs) re-runs the command
under `torchrun --standalone --nproc_per_node N`; across machines, run torchrun yourself on each with
`--nnodes`, `--node_rank` and a rendezvous endpoint (README, "Training on GPUs and many processes").
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def join() -> World:
    """This process's place in the job torchrun started (its environment), joined to the process group; a
    lone process when torchrun did not start it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("MTL_DIST_BACKEND") != "gloo" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend)
    return world


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def device_for(world: World, device: torch.device) -> torch.device:
    """A rank's device: its own GPU (LOCAL_RANK) when training on CUDA."""
    if device.type == "cuda" and world.distributed:
        return torch.device("cuda", world.local_rank)
    return device


def share(index: list[int], world: World) -> list[int]:
    """This rank's contiguous share of a global batch; the whole batch when it has fewer examples than ranks
    (a single long sentence), so no rank steps on nothing."""
    if not world.distributed or len(index) < world.size:
        return index
    per, extra = divmod(len(index), world.size)
    start = world.rank * per + min(world.rank, extra)
    return index[start : start + per + (world.rank < extra)]


def average_gradients(parameters: list[nn.Parameter], world: World) -> None:
    """Average the gradients across ranks. A parameter no rank gave a gradient keeps None (AdamW then skips it,
    as in one process); one that some rank did not reach counts zero there."""
    if not world.distributed:
        return
    has = torch.tensor([p.grad is not None for p in parameters], dtype=torch.uint8)
    dist.all_reduce(has, op=dist.ReduceOp.MAX)
    reached = [p for p, flag in zip(parameters, has.tolist()) if flag]
    if not reached:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in reached])
    dist.all_reduce(flat)
    flat /= world.size
    start = 0
    for p in reached:
        p.grad = flat[start : start + p.numel()].view_as(p).clone()
        start += p.numel()


def broadcast(value: Any, world: World) -> Any:
    """Rank 0's value on every rank (a decision only rank 0 can take: stop, time guard)."""
    if not world.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any, world: World) -> list[Any]:
    """Every rank's value, in rank order, on every rank."""
    if not world.distributed:
        return [value]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, value)
    return out


def mean(value: float, world: World) -> float:
    """The mean over ranks of a number (a step's loss, for the log)."""
    if not world.distributed:
        return value
    total = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item()) / world.size


def same_weights(model: nn.Module, world: World) -> None:
    """Raise unless every rank holds bit-identical weights (they must: same start, same averaged gradients)."""
    if not world.distributed:
        return
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    digests = gather(digest.hexdigest(), world)
    if len(set(digests)) != 1:
        raise RuntimeError(f"the ranks' weights diverged: {digests}")


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def launch(nproc: int, argv: list[str]) -> int:
    """Run `mtl <argv>` under torchrun with nproc processes on this machine; its exit code."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "mtl.cli", *argv]
    return subprocess.run(command, check=False).returncode
