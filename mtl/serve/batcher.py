"""Server-side micro-batching: concurrent requests share one encoder pass.

Requests put a Job (their sentences as tokens, their tasks, the model they started on, who asked) on a
bounded queue and await its future. One worker thread takes the waiting jobs, up to max_batch_sentences, and
runs them as one pass; the forward pass runs there, off the event loop, while the loop parses the next
requests.

When a pass starts. A pass never sleeps on the chance of company: it waits only for clients it has reason
to expect, those whose answer it has just computed and who have not asked again yet (answered less than
max_wait ago, or still being answered by the event loop). So a lone client (concurrency 1) is served at
once, as by one forward per request, while the clients a pass answered together come back together and
share the next pass instead of splitting into a small pass and a large one. The wait ends when every
expected client is back, max_batch_sentences are waiting, or max_wait passes in which no client arrives
or is answered.
Requests that arrive while a pass runs simply join the next one. A client is the connection's address.

How a pass is cut. The pass's sentences are sorted by length and cut into encoder calls so that the
padded tokens plus a fixed cost per call (encoder_call_tokens: what one more call costs, counted in padded
tokens) are fewest. One call per pass pads short sentences to the longest; one call per 8 pays the fixed
cost 4 times for 32 sentences (bench/serve.py fits the fixed cost: 61-145 padded tokens for the BiLSTM on
1 thread, against a median test sentence of 10 tokens). On passes of 28 test sentences, cutting at 80 took
13% less CPU per sentence than calls of 8 and 27% less than one call.

Jobs that started on different model versions (a swap happened between them) never share a call. A
request larger than max_batch_sentences goes alone. The queue is bounded in sentences: past
max_queue_sentences a new job is refused at once (QueueFull: the service answers 503 with Retry-After),
so an overload costs waiting time that is bounded instead of memory that is not. An error in a pass fails
that pass's jobs, never the worker. The answers of a pass reach the event loop in one wake-up, not one
per request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from mtl.model.predict import predict
from mtl.serve.follower import Served
from mtl.serve.metrics import ServiceMetrics

log = logging.getLogger("mtl.serve")

ANSWERING_SECONDS = 1.0  # a client whose answer the event loop has not sent by then (it timed out) is not awaited


class QueueFull(Exception):
    """More sentences are waiting than serve.max_queue_sentences allows."""


@dataclass
class Job:
    tokens: list[list[str]]
    tasks: list[str]
    served: Served  # the model the request started on; it finishes on it
    future: asyncio.Future  # -> one {"tokens", task: prediction} per sentence; created on the event loop
    client: Hashable | None = None  # who asked (host, port): a pass waits for the clients it just answered


def cut(lengths: list[int], call_tokens: float) -> list[int]:
    """Where to cut sentences sorted by length (ascending) into encoder calls: the end index of each call.

    Minimises the padded tokens (each call pads to its longest sentence) plus call_tokens per call, by
    dynamic programming over the cut points: O(n^2) for n sentences, about a millisecond at n = 64.
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n  # best[j]: the least cost of the first j sentences
    start = [0] * (n + 1)  # start[j]: where the last call of that cut begins
    for j in range(1, n + 1):
        longest = lengths[j - 1]
        for i in range(j):
            cost = best[i] + call_tokens + (j - i) * longest
            if cost < best[j]:
                best[j], start[j] = cost, i
    ends, j = [], n
    while j > 0:
        ends.append(j)
        j = start[j]
    return ends[::-1]


class MicroBatcher:
    def __init__(self, metrics: ServiceMetrics, *, max_batch_sentences: int, encoder_call_tokens: float,
                 max_wait_seconds: float, max_queue_sentences: int) -> None:
        self.metrics = metrics
        self.max_batch = max_batch_sentences
        self.call_tokens = encoder_call_tokens
        self.max_wait = max_wait_seconds
        self.max_queue = max_queue_sentences
        self._jobs: deque[Job] = deque()
        self._waiting = 0  # sentences in _jobs
        self._answering: dict[Hashable, float] = {}  # client -> when its pass ended; the loop is sending it
        self._answered: dict[Hashable, float] = {}  # client -> when the loop sent its answer; not back yet
        self._progress = 0.0  # when a client last arrived or was answered: the wait for company restarts
        self._lock = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="mtl-serve-batcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish the jobs already queued, then end the worker."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._thread.join(timeout=60)

    def submit(self, tokens: list[list[str]], tasks: list[str], served: Served,
               client: Hashable | None = None) -> asyncio.Future:
        """Queue a job; await the returned future (on the calling event loop) for its rows."""
        job = Job(tokens, tasks, served, asyncio.get_running_loop().create_future(), client)
        with self._lock:
            if self._stopping:
                raise QueueFull("the service is shutting down")
            if self._waiting + len(tokens) > self.max_queue:
                raise QueueFull(f"{self._waiting} sentences are waiting (serve.max_queue_sentences "
                                f"{self.max_queue}); try again shortly")
            self._jobs.append(job)
            self._waiting += len(tokens)
            self._answering.pop(client, None)
            self._answered.pop(client, None)
            self._progress = time.monotonic()
            self.metrics.queue_sentences.set(self._waiting)
            self._lock.notify_all()
        return job.future

    def answered(self, client: Hashable | None) -> None:
        """The event loop has sent `client` its answer (or given up on it): it may ask again soon."""
        if client is None:
            return
        with self._lock:
            if self._answering.pop(client, None) is not None:
                self._answered[client] = self._progress = time.monotonic()
                self._lock.notify_all()

    # --- the worker ----------------------------------------------------------------------------

    def _work(self) -> None:
        while (jobs := self._next_batch()) is not None:
            for served in {id(job.served): job.served for job in jobs}.values():
                self._run([job for job in jobs if job.served is served], served)

    def _company_expected(self, now: float) -> bool:
        """Is a client that the last passes answered still on its way back? (Forgets those that are not.)"""
        for waiting, patience in ((self._answering, ANSWERING_SECONDS), (self._answered, self.max_wait)):
            for client in [client for client, at in waiting.items() if now - at >= patience]:
                del waiting[client]
        return bool(self._answering or self._answered)

    def _next_batch(self) -> list[Job] | None:
        """The jobs of the next pass: waits for one, then for expected company (module docstring).
        None: stopped."""
        with self._lock:
            while True:
                while not self._jobs and not self._stopping:
                    self._lock.wait()
                if not self._jobs:
                    return None
                while self._waiting < self.max_batch and not self._stopping:
                    now = time.monotonic()
                    idle_until = self._progress + self.max_wait
                    if not self._company_expected(now) or now >= idle_until:
                        break
                    self._lock.wait(idle_until - now)
                if self._jobs:  # (stopping: the queued jobs still run)
                    break
            jobs, taken = [], 0
            while self._jobs and (not jobs or taken + len(self._jobs[0].tokens) <= self.max_batch):
                job = self._jobs.popleft()
                jobs.append(job)
                taken += len(job.tokens)
            self._waiting -= taken
            self.metrics.queue_sentences.set(self._waiting)
            return jobs

    def _run(self, jobs: list[Job], served: Served) -> None:
        jobs = [job for job in jobs if not job.future.cancelled()]  # timed out (504) while queued: skipped
        if not jobs:
            return
        asked = {task for job in jobs for task in job.tasks}
        tasks = [task for task in served.predictor.tasks if task in asked]
        sentences = [tokens for job in jobs for tokens in job.tokens]
        started = time.perf_counter()
        try:
            by_task = self._predict(served, sentences, tasks)
        except Exception as error:  # noqa: BLE001 - one bad pass must not end the worker
            log.exception("prediction failed for %d sentences on %s", len(sentences), served.version)
            self._settle(jobs, [error] * len(jobs))
            return
        self.metrics.batch_sentences.observe(len(sentences))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        answers: list[list[dict[str, Any]]] = []
        start = 0
        for job in jobs:
            rows: list[dict[str, Any]] = []
            for i, tokens in enumerate(job.tokens, start):
                # A task that reads pairs has no answer for a single text, and the reverse.
                rows.append({"tokens": tokens, **{task: by_task[task][i] for task in job.tasks
                                                  if by_task[task][i] is not None}})
            start += len(job.tokens)
            answers.append(rows)
        self._settle(jobs, answers)

    def _predict(self, served: Served, sentences: list, tasks: list[str]) -> dict[str, list]:
        """{task: one prediction per sentence}, the pass cut into encoder calls by `cut`."""
        by_task: dict[str, list] = {task: [None] * len(sentences) for task in tasks}
        shapes: dict[int, list[int]] = {}  # single texts and pairs never share a call
        for i, item in enumerate(sentences):
            shapes.setdefault(len(item) if isinstance(item, tuple) else 1, []).append(i)
        for index in shapes.values():
            index.sort(key=lambda i: _tokens(sentences[i]))
            begin = 0
            for end in cut([_tokens(sentences[i]) for i in index], self.call_tokens):
                call = index[begin:end]
                for task, values in predict(served.predictor.model, [sentences[i] for i in call], tasks,
                                            batch_size=len(call)).items():
                    for i, value in zip(call, values):
                        by_task[task][i] = value
                begin = end
        return by_task

    def _settle(self, jobs: list[Job], outcomes: list) -> None:
        """Hand a pass's rows (or its error) to the event loops of its jobs, one wake-up per loop."""
        now = time.monotonic()
        with self._lock:
            for job in jobs:
                if job.client is not None:
                    self._answering[job.client] = now
        by_loop: dict[int, tuple[asyncio.AbstractEventLoop, list]] = {}
        for job, outcome in zip(jobs, outcomes):
            by_loop.setdefault(id(loop := job.future.get_loop()), (loop, []))[1].append((job.future, outcome))
        for loop, settled in by_loop.values():
            try:
                loop.call_soon_threadsafe(_resolve, settled)
            except RuntimeError:  # the loop has closed (the server stopped): nobody is waiting
                pass


def _tokens(item: list[str] | tuple[list[str], ...]) -> int:
    """A sentence's tokens, or the longer text's of a pair (each text of a pair is padded on its own)."""
    return max(map(len, item)) if isinstance(item, tuple) else len(item)


def _resolve(settled: list[tuple[asyncio.Future, Any]]) -> None:
    """On the event loop: set each future that is still waiting (a timed-out request's is cancelled)."""
    for future, outcome in settled:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
