"""Running the service: `mtl serve` in the foreground, or a server in a thread (tests, benchmarks).

The model reference is a folder (served as it is) or a registry alias or version of the registry that
params names (followed: mtl/serve/follower.py). One process, one model in memory, one batching worker;
to use more cores, run more processes behind a load balancer, each following the same alias.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI

from mtl.config import Params
from mtl.registry import open_registry
from mtl.serve.app import create_app
from mtl.serve.follower import ModelFollower
from mtl.serve.metrics import ServiceMetrics


def build_app(params: Params, model: str) -> FastAPI:
    """The service for `model`: a folder, or a registry alias or version (followed)."""
    if params.serve.threads:
        torch.set_num_threads(params.serve.threads)
    metrics = ServiceMetrics()
    if Path(model).is_dir():
        follower = ModelFollower(metrics=metrics, folder=Path(model))
    else:
        follower = ModelFollower(metrics=metrics, registry=open_registry(params), ref=model,
                                 poll_seconds=params.serve.poll_seconds)
    return create_app(follower, params.serve, metrics)


def serve(params: Params, model: str, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM: requests in flight finish first)."""
    uvicorn.run(build_app(params, model), host=host or params.serve.host,
                port=params.serve.port if port is None else port,
                access_log=False, log_level="info")  # ours (mtl/serve/access.py) replaces uvicorn's


class BackgroundServer:
    """A real uvicorn server on 127.0.0.1 in a thread, on a free port; a context manager that stops it.

        with BackgroundServer(app) as server:
            httpx.post(server.url + "/v1/predict", json=...)
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", start_timeout: float = 60.0) -> None:
        config = uvicorn.Config(app, host=host, port=0, access_log=False, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="mtl-serve-uvicorn", daemon=True)
        self.start_timeout = start_timeout
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start (see the log above)")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
