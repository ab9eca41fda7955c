"""Real components for the scheduling tests and bench/schedule.py: a Prefect server started as a
subprocess (its own PREFECT_HOME, scheduler loop lowered), `mtl schedule` serving the retrain
deployment, reads of the server's REST API, and a webhook receiver on 127.0.0.1.
Whatever these start, they stop."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from mtl.notify import EVENTS

REPO = Path(__file__).resolve().parents[1]
OUTCOME_EVENTS = tuple(EVENTS.values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prefect_environment(api_url: str, home: Path) -> dict[str, str]:
    """The environment of every process that talks to the test server: nothing else, nothing outside."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    return {
        **env,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",  # the runner's look for due runs (default 10 s)
    }


@contextmanager
def prefect_server(home: Path, timeout: float = 90) -> Iterator[str]:
    """`prefect server start` on a free 127.0.0.1 port; yields the API URL once /health answers."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **prefect_environment(api_url, home),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",  # scheduled runs are created this often
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL")
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    command.append("--no-ui")
    log = (home / "server.log").open("w")
    with _process(command, env, log) as process:
        deadline = time.monotonic() + timeout
        while not _healthy(api_url):
            if process.poll() is not None or time.monotonic() > deadline:
                log_tail = (home / "server.log").read_text()[-3000:]
                raise AssertionError(f"the Prefect server did not come up:\n{log_tail}")
            time.sleep(0.3)
        yield api_url


@contextmanager
def served(params_file: Path, api_url: str, home: Path, interval: float, env: dict | None = None) -> Iterator[None]:
    """`mtl schedule --interval` serving the retrain deployment against the test server (log: serve.log)."""
    command = [sys.executable, "-m", "mtl.cli", "schedule", "--params", str(params_file), "--interval", str(interval)]
    log = (home / "serve.log").open("w")
    with _process(command, {**prefect_environment(api_url, home), **(env or {})}, log, cwd=REPO):
        yield


@contextmanager
def _process(command: list[str], env: dict[str, str], log, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the runner's flow-run children too
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- reading the server -------------------------------------------------------------------------------


def api(api_url: str, path: str, body: dict | None = None):
    """GET the path, or POST `body` to it."""
    url = f"{api_url}{path}"
    response = httpx.get(url, timeout=10) if body is None else httpx.post(url, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def deployment_runs(api_url: str, name: str = "retrain/nightly") -> list[dict]:
    """The deployment's flow runs, by expected start time; [] while it is not registered yet."""
    try:
        deployment = api(api_url, f"/deployments/name/{name}")
    except httpx.HTTPStatusError:
        return []
    body = {"deployments": {"id": {"any_": [deployment["id"]]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200}
    return api(api_url, "/flow_runs/filter", body)


def outcome_events(api_url: str) -> dict[str, dict]:
    """flow run id -> its outcome event (name, payload), from the server's event store."""
    body = {"filter": {"event": {"name": list(OUTCOME_EVENTS)}}, "limit": 50}
    found = {}
    for event in api(api_url, "/events/filter", body)["events"]:
        related = [r["prefect.resource.id"] for r in event["related"]]
        run = next((r.removeprefix("prefect.flow-run.") for r in related if r.startswith("prefect.flow-run.")), None)
        found[run] = {"event": event["event"], **event["payload"]}
    return found


def outcome_artifact(api_url: str, flow_run_id: str) -> str | None:
    body = {"artifacts": {"key": {"any_": ["retrain-outcome"]}, "flow_run_id": {"any_": [flow_run_id]}}}
    artifacts = api(api_url, "/artifacts/filter", body)
    return artifacts[0]["data"] if artifacts else None


def wait_for(condition, timeout: float, every: float = 0.5, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def trigger_to_completion(run: dict) -> float:
    """Seconds from the moment the schedule made the run due (or it started, if a little earlier: the
    runner starts prefetched runs on time to the server's clock) to its completion."""
    began = min(_time(run["expected_start_time"]), _time(run["start_time"]))
    return (_time(run["end_time"]) - began).total_seconds()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- a webhook receiver -------------------------------------------------------------------------------


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every JSON POST (the `notify.webhook` of a test)."""

    def __init__(self, status: int = 200):
        self.received: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.status = status
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[str]:
        return [item["event"] for item in self.received]

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- a workspace that trains in seconds -----------------------------------------------------------------

TINY = {
    "model": {"word_dim": 16, "char_dim": 8, "char_filters": 16, "hidden_size": 32, "layers": 1},
    "training": {"max_steps": 20, "eval_every": 10, "checkpoint_every": 10, "batch_size": 300, "warmup_steps": 2,
                 "progress": False, "threads": 1},
    "evaluation": {"n_bootstrap": 0},
    # Every candidate passes: these tests are about when the pipeline runs, not about what the gate decides.
    "gate": {"min_examples": 1, "inconclusive": "allow", "n_bootstrap": 200,
             "tasks": {task: {"floor": 0.0, "max_drop": 1.0} for task in ("pos", "ner", "sentiment", "question")}},
}
