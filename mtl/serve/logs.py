"""Structured access logs: one JSON object per request on the "mtl.serve.access" logger.

    {"event": "request", "method": "POST", "path": "/v1/predict", "status": 200, "ms": 12.3,
     "client": "127.0.0.1", "sentences": 2, "tasks": ["pos"], "version": "v0003", "error": null}

uvicorn's own access log is turned off (mtl/serve/server.py) so each request is logged once, with the
fields an operator filters on. `mtl serve` prints it on stderr like every mtl logger (mtl/logs.py), the
JSON being the message; a deployment that ships logs elsewhere attaches its own handler to the logger.
"""

from __future__ import annotations

import json
import logging
from typing import Any

access_log = logging.getLogger("mtl.serve.access")


def log_request(*, method: str, path: str, status: int, seconds: float, client: str | None,
                details: dict[str, Any]) -> None:
    """details: what the handler learned (sentences, tasks, version, error), when it got that far."""
    record = {"event": "request", "method": method, "path": path, "status": status,
              "ms": round(seconds * 1000, 2), "client": client, **details}
    access_log.info(json.dumps(record, ensure_ascii=False, default=str))
