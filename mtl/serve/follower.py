"""Which model serves, and following the registry when its alias moves.

The service serves one `Served` at a time. A folder is loaded once. A registry reference is followed:
every serve.poll_seconds a background thread resolves it, and when it names another version (a
promotion, a rollback) that version is fetched (every file checked against the manifest's sha256),
loaded and given a smoke prediction, and only then swapped in, by replacing one reference. A request
takes that reference when it arrives and keeps it to the end, so requests in flight finish on the version
they started with. A version that fails any step is recorded (GET /v1/model's last_failure, the log,
mtl_model_load_failures_total) and the old one keeps serving; it is not retried until the alias moves
away and back. Local folder and S3 registries alike: everything goes through mtl.registry.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mtl.model.predict import Predictor
from mtl.quantize import load_predictor
from mtl.registry import Registry
from mtl.serve.metrics import ServiceMetrics

log = logging.getLogger("mtl.serve")

SMOKE_TOKENS = ["The", "service", "checks", "this", "sentence", "."]


@dataclass(frozen=True)
class Served:
    """A loaded model and what /v1/model says about it."""

    version: str  # the registry version, or the folder's name
    predictor: Predictor
    loaded_at: str
    registry_record: dict[str, Any] = field(default_factory=dict)  # Registry.show(version); {} for a folder


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def smoke_test(predictor: Predictor) -> None:
    """One prediction on a fixed sentence: some task answers, and every tag list has a tag per token."""
    answer = predictor.predict([SMOKE_TOKENS])[0]
    if not answer:
        raise ValueError(f"smoke prediction: no task answered {SMOKE_TOKENS}")
    for task, value in answer.items():
        if isinstance(value, list) and len(value) != len(SMOKE_TOKENS):
            raise ValueError(f"smoke prediction: task {task!r} gave {len(value)} tags for {len(SMOKE_TOKENS)} tokens")


class ModelFollower:
    """Holds the serving model; follows `ref` in `registry`, or serves `folder` as it is."""

    def __init__(self, *, metrics: ServiceMetrics, registry: Registry | None = None, ref: str | None = None,
                 folder: Path | None = None, poll_seconds: float = 10.0) -> None:
        if (registry is None) == (folder is None):
            raise ValueError("serve a registry reference or a folder, not both or neither")
        self.registry, self.ref, self.folder = registry, ref, folder
        self.source = f"registry:{ref}" if registry is not None else str(folder)
        self.poll_seconds = poll_seconds
        self.metrics = metrics
        self.current: Served | None = None
        self.last_failure: dict[str, Any] | None = None
        self._failed: set[str] = set()  # versions not to retry while the alias still names them
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load the model now (a failure leaves the service unready and is retried), then follow."""
        self.check()
        if self.registry is not None:
            self._thread = threading.Thread(target=self._follow, name="mtl-serve-follower", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.check()

    def check(self) -> None:
        """Load what the reference names now, if it is not what serves; never raises."""
        try:
            if self.registry is None:
                if self.current is None:
                    self._swap(self._load_folder())
                return
            version = self.registry.resolve(self.ref)
        except Exception as error:  # noqa: BLE001 - a registry outage must not stop the service
            self._fail(self.ref or self.source, error)
            return
        self._failed &= {version}  # the alias moved on: versions that failed before may be tried again
        if self.current is not None and self.current.version == version or version in self._failed:
            return
        try:
            self._swap(self._load_version(version))
        except Exception as error:  # noqa: BLE001 - any failure leaves the old model serving
            self._failed.add(version)
            self._fail(version, error)

    def _load_version(self, version: str) -> Served:
        with tempfile.TemporaryDirectory(prefix="mtl-serve-") as folder:
            predictor = load_predictor(self.registry.fetch(version, folder))  # fetch checks every sha256
        smoke_test(predictor)
        return Served(version, predictor, _now(), self.registry.show(version))

    def _load_folder(self) -> Served:
        predictor = load_predictor(self.folder)
        smoke_test(predictor)
        return Served(self.folder.name, predictor, _now())

    def _swap(self, served: Served) -> None:
        previous = self.current.version if self.current else None
        self.current = served  # one reference: a request holds whichever it took
        self.metrics.swaps.inc()
        self.metrics.serving(served.version, served.predictor.precision)
        log.info("serving %s (%s, %s), replacing %s", served.version, served.predictor.precision, self.source,
                 previous or "nothing")

    def _fail(self, version: str, error: Exception) -> None:
        self.last_failure = {"version": version, "error": f"{type(error).__name__}: {error}", "at": _now()}
        self.metrics.load_failures.inc()
        serving = self.current.version if self.current else "nothing"
        log.error("could not load %s: %s; still serving %s", version, self.last_failure["error"], serving)
