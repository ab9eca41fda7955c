"""The HTTP service over a model: FastAPI on uvicorn, micro-batched, following a registry alias.

    schema.py    request and response bodies (the OpenAPI schema)
    app.py       the routes, errors as JSON
    batcher.py   concurrent requests packed into one encoder pass
    follower.py  the model serving, and the swap when the alias moves
    access.py    per request: size limits, metrics, a structured access-log line
    metrics.py   Prometheus metrics
    server.py    `mtl serve`, and a server in a thread for tests and benchmarks

Layering: serve sits above registry and model; nothing below imports it.
"""

from mtl.serve.server import BackgroundServer, build_app, serve

__all__ = ["BackgroundServer", "build_app", "serve"]
