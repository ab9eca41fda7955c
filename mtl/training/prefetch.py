"""Batches prepared ahead: a background thread draws the next steps' tasks and batches while the model trains.

A step's draw is everything it trains that does not touch the model: the sampler's task (or every task, for
the weighting methods that take one batch of each), each task's next batch from its length-bucketed stream
(this rank's share of it, under torchrun), collated into padded tensors, and pinned when they are bound for
a CUDA device, so the training thread's copy is asynchronous. With training.prefetch N, a thread keeps up to
N steps' draws ready in a bounded queue; with 0 the training thread draws each step itself when it needs it.

The trajectory is the same either way, bit for bit: draws read only the sampler's and the batch streams' own
generators, never torch's, Python's or numpy's global ones (the model's dropout draws from those, in the
training thread), so the same steps get the same batches in the same order whichever thread drew them.

Resume: a checkpoint records where the draws stand as of the batches the loop has CONSUMED, not of those
prepared ahead. Each draw carries `position`, the sampler's and the streams' state right after it was drawn,
and the consumer keeps the position of the last draw it took (Prefetch.position); the checkpoint saves that,
and a resumed run's producer starts from it.

Errors: an exception in the producer is raised again by next() in the training thread (with a note naming
the step), never a hang. The thread stops when training ends, stops early or fails (close(), or the `with`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import torch

from mtl.model.batch import Batch
from mtl.training.batching import BucketBatches
from mtl.training.data import TaskData
from mtl.training.distributed import World
from mtl.training.samplers import TaskSampler
from mtl.training.step import next_batch

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often a blocked producer looks whether it was told to stop
JOIN_SECONDS = 60.0  # the longest close() waits for a draw in progress (one collate: milliseconds)


@dataclass
class Draw:
    step: int
    tasks: list[str]  # the tasks this step trains, in order
    batches: dict[str, Batch]  # {task: batch} on the CPU (pinned when bound for CUDA)
    position: dict  # {"sampler": ..., "batches": {task: ...}}: the draws' state right after this one


class Drawer:
    """What each step trains: the sampler's task (or every task) and each task's next batch. It alone advances
    the sampler's generator and the batch streams once training runs."""

    def __init__(self, sampler: TaskSampler, streams: dict[str, BucketBatches], data: dict[str, TaskData], *,
                 every_task: bool, world: World = World(), pin_for: torch.device | None = None) -> None:
        """pin_for: the CUDA device the batches are copied to (they are pinned for it); None: not pinned."""
        self.sampler, self.streams, self.data = sampler, streams, data
        self.every_task, self.world, self.pin_for = every_task, world, pin_for

    def bind_thread(self) -> None:
        """Called first in a thread that draws: CUDA's current device is per thread, and pinning from a new
        thread would otherwise open a context on GPU 0 (every rank's, under torchrun)."""
        if self.pin_for is not None:
            torch.cuda.set_device(self.pin_for)

    def draw(self, step: int) -> Draw:
        tasks = list(self.data) if self.every_task else [self.sampler.sample(step)]
        batches = {}
        for task in tasks:
            batch = next_batch(self.data[task], self.streams[task], self.world)
            batches[task] = batch.pin_memory() if self.pin_for is not None else batch
        return Draw(step, tasks, batches, self.position())

    def position(self) -> dict:
        """The sampler's and the streams' state now (plain JSON, copied: later draws do not change it)."""
        return {"sampler": self.sampler.state_dict(),
                "batches": {name: stream.state_dict() for name, stream in self.streams.items()}}


@dataclass
class _Failed:
    step: int
    error: BaseException


class Prefetch:
    """The draws of steps first..last, in order, `depth` of them prepared ahead by a thread (0: none, drawn by
    next() itself). Use as a context manager, or call close(): it stops the thread."""

    def __init__(self, drawer: Drawer, first: int, last: int, depth: int) -> None:
        self.drawer, self.next_step, self.last, self.depth = drawer, first, last, depth
        self.position = drawer.position()  # as of the draws consumed so far: none yet
        self.waited = 0.0  # seconds next() took in all: drawing (depth 0) or waiting for the producer
        self._queue: queue.Queue[Draw | _Failed] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if depth > 0 and first <= last:
            self._thread = threading.Thread(target=self._produce, args=(first, last), name="mtl-prefetch",
                                            daemon=True)  # daemon: a crash of the training thread never waits on it
            self._thread.start()

    def next(self) -> Draw:
        """The next step's draw; raises what the producer raised."""
        if self.next_step > self.last:
            raise RuntimeError(f"no draw after step {self.last}: the run has {self.last} steps")
        started = time.perf_counter()
        draw = self.drawer.draw(self.next_step) if self._thread is None else self._take()
        self.waited += time.perf_counter() - started
        if draw.step != self.next_step:  # a bug, never data: the queue keeps order
            raise RuntimeError(f"prefetch handed step {draw.step}'s batches to step {self.next_step}")
        self.next_step += 1
        self.position = draw.position
        return draw

    def close(self) -> None:
        """Stop the producer and drop what it prepared; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._drain()  # a producer blocked on a full queue sees the stop sooner
            self._thread.join(JOIN_SECONDS)
            if self._thread.is_alive():
                log.warning("the prefetch thread did not stop within %.0f s; leaving it (a daemon)", JOIN_SECONDS)
            self._thread = None
        self._drain()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- the producer's side and the hand-over ---------------------------------------------------------

    def _produce(self, first: int, last: int) -> None:
        step = first
        try:
            self.drawer.bind_thread()
            for step in range(first, last + 1):
                if not self._put(self.drawer.draw(step)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the training thread, which raises it
            self._put(_Failed(step, error))

    def _put(self, item: Draw | _Failed) -> bool:
        """Queue the item, unless told to stop first; whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _take(self) -> Draw:
        while True:
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self._thread is not None and not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError(f"the prefetch thread ended before step {self.next_step}'s batches") from None
                continue
            if isinstance(item, _Failed):
                self.close()
                item.error.add_note(f"(raised in the prefetch thread while preparing step {item.step}'s batches)")
                raise item.error
            return item

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
