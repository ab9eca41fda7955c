"""Where training runs and in what precision: training.device, training.precision, training.threads.

    device     auto (CUDA when available, else the CPU) | cpu | cuda | cuda:N
    precision  fp32 | bf16 | fp16: the forward pass under torch.autocast; the kinds' losses, the CRF and the
               weighting methods' arithmetic stay in fp32 (they cast). fp16 needs a GradScaler (its state is
               saved in checkpoints); bf16 has fp32's range and needs none.

Batches are built on the CPU and moved with non_blocking copies (from pinned memory on CUDA); the model, the
optimizer state and the weighting's tensors live on the device. Checkpoints and model folders hold CPU
tensors, so they load anywhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import torch

log = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """training.device as a torch device; asking for CUDA where there is none is an error, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"training.device is {name!r} but torch sees no CUDA device (use auto or cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"training.device is {name!r} but there are {torch.cuda.device_count()} CUDA devices")
    return device


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """The forward pass in `precision` (nothing changes for fp32)."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=DTYPES[precision]):
        yield


def make_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler | None:
    """fp16's dynamic loss scale; None for fp32 and bf16, which need none."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


def setup_threads(threads: int | None) -> None:
    """CPU threads for torch; deterministic kernels, so one seed gives one run bit for bit on one machine."""
    count = threads or os.cpu_count() or 1
    torch.set_num_threads(count)
    torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())
    if count > 1 and "OMP_WAIT_POLICY" not in os.environ:
        # Measured here: with the cores shared, OpenMP threads spinning at barriers made 2 threads ~10x
        # slower than 1. The policy is read when torch loads, so it must be set before that.
        log.warning("OMP_WAIT_POLICY is not set: on a shared CPU set OMP_WAIT_POLICY=PASSIVE before "
                    "starting, or training with %d threads can crawl", count)
