"""A Prefect server started as a subprocess (its own PREFECT_HOME, scheduler loop lowered), `mtl schedule`
serving the retrain deployment against it, and reads of the server's REST API: for tests/test_schedule.py
and bench/schedule.py. Whatever these start, they stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from harness.webhook import free_port
from mtl.notify import EVENTS

REPO = Path(__file__).resolve().parents[1]
OUTCOME_EVENTS = tuple(EVENTS.values())
FINISHED = ("COMPLETED", "FAILED", "CRASHED")  # flow run state types


def prefect_environment(api_url: str, home: Path) -> dict[str, str]:
    """The environment of every process that talks to the test server: nothing else, nothing outside."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    return {
        **env,
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",  # the runner's look for due runs (default 10 s)
    }


@contextmanager
def prefect_server(home: Path, timeout: float = 90, attempts: int = 3) -> Iterator[str]:
    """`prefect server start` on a free 127.0.0.1 port; yields the API URL once /health answers. A port taken
    between free_port() and the server's bind (by another test process: pytest-xdist workers start servers at
    the same time) costs another attempt on another port."""
    for _ in range(attempts):
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
            if _came_up(process, api_url, home / "server.log", timeout):
                yield api_url
                return
    raise AssertionError(f"the Prefect server found no free port in {attempts} attempts:\n"
                         f"{(home / 'server.log').read_text()[-3000:]}")


def _came_up(process: subprocess.Popen, api_url: str, log_file: Path, timeout: float) -> bool:
    """True once /health answers while our process still runs (not another's server on a reused port); False
    when the port was taken; an AssertionError with the log's tail on any other failure or on timeout."""
    deadline = time.monotonic() + timeout
    while not (_healthy(api_url) and process.poll() is None):
        if process.poll() is not None or time.monotonic() > deadline:
            log_tail = log_file.read_text()[-3000:]
            if process.poll() is not None and "already in use" in log_tail.lower():
                return False
            raise AssertionError(f"the Prefect server did not come up:\n{log_tail}")
        time.sleep(0.3)
    return True


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


def finished_runs(api_url: str, n: int) -> list[dict] | None:
    """The deployment's first n finished runs, or None while fewer have finished."""
    runs = [r for r in deployment_runs(api_url) if r["state_type"] in FINISHED]
    return runs[:n] if len(runs) >= n else None


def outcome_events(api_url: str) -> dict[str, dict]:
    """flow run id -> its outcome event (name, payload), from the server's event store."""
    body = {"filter": {"event": {"name": list(OUTCOME_EVENTS)}}, "limit": 50}  # the newest (the API caps it at 50)
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


def start_to_end(run: dict) -> float:
    return (_time(run["end_time"]) - _time(run["start_time"])).total_seconds()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
