"""Every request's accounting: the size limits before a body is read, then its metrics and one structured
access-log line. A plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task and a stream per
request, a few milliseconds on this hot path).

The access log is one JSON object per request on the "mtl.serve.access" logger:

    {"event": "request", "method": "POST", "path": "/v1/predict", "status": 200, "ms": 12.3,
     "client": "127.0.0.1", "sentences": 2, "tasks": ["pos"], "version": "v0003", "error": null}

Handlers add what they learn (sentences, tasks, version, error) to request.state.details. uvicorn's own
access log is off (mtl/serve/server.py) so each request is logged once; `mtl serve` prints this logger on
stderr like every mtl logger (mtl/logs.py), and a deployment that ships logs elsewhere adds its own handler.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mtl.config import ServeConfig
from mtl.serve.metrics import ServiceMetrics

access_log = logging.getLogger("mtl.serve.access")


class Accounting:
    def __init__(self, app: ASGIApp, *, config: ServeConfig, metrics: ServiceMetrics) -> None:
        self.app, self.config, self.metrics = app, config, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        details: dict[str, Any] = {}
        scope.setdefault("state", {})["details"] = details  # request.state.details in the handlers
        status = 500
        responded = False

        async def send_and_note(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
            await send(message)

        refusal = self.refuse_size(scope)
        try:
            await (refusal or self.app)(scope, receive, send_and_note)
        except Exception as error:  # noqa: BLE001 - a bug answers 500 and is logged; the process goes on
            details["error"] = f"{type(error).__name__}: {error}"
            if not responded:
                await JSONResponse({"error": f"internal error: {details['error']}"}, 500)(scope, receive, send_and_note)
        if refusal is not None:
            details["error"] = json.loads(refusal.body)["error"]
        route = scope.get("route")
        seconds = time.perf_counter() - started
        self.metrics.observe_request(route.path if route is not None else "other", status, seconds)  # bounded labels
        if access_log.isEnabledFor(logging.INFO):  # the JSON costs more than the check
            client = scope.get("client")
            record = {"event": "request", "method": scope["method"], "path": scope["path"], "status": status,
                      "ms": round(seconds * 1000, 2), "client": client[0] if client else None, **details}
            access_log.info(json.dumps(record, ensure_ascii=False, default=str))

    def refuse_size(self, scope: Scope) -> JSONResponse | None:
        """411 for a POST without Content-Length, 413 past serve.max_request_bytes: before reading the body."""
        if scope["method"] != "POST":
            return None
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").decode("latin-1")
        if not length:
            return JSONResponse({"error": "a POST needs a Content-Length header"}, status_code=411)
        if not length.isdecimal() or int(length) > self.config.max_request_bytes:
            return JSONResponse({"error": f"the body is {length} bytes; serve.max_request_bytes is "
                                          f"{self.config.max_request_bytes}"}, status_code=413)
        return None
