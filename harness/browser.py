"""A headless Chromium driven over the DevTools protocol, for tests that look at a page as a person would:
what it logged to the console, what it tried to fetch, what its DOM holds, and a screenshot.

Debian's chromium (apt-get install chromium), launched once per `chromium()` block with a fresh profile and
every background service off, so the browser itself makes no request. The protocol is spoken over the
`websockets` package (already installed with Prefect): Playwright would add a driver and a browser download
for the four commands needed here. Requests to http(s) are recorded and blocked, so a page that needs the
network shows it as a console error and a recorded URL instead of silently rendering from a CDN.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
         "--mute-audio", "--window-size=1280,1000", "--remote-debugging-port=0", "--remote-allow-origins=*"]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:")


def find_chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


@dataclass
class Visit:
    """What happened while a page loaded: console errors (and uncaught exceptions), the non-local URLs it
    requested, and whether its readiness expression came true."""

    url: str
    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    ready: bool = False


class Browser:
    def __init__(self, socket) -> None:
        self._socket, self._next_id, self._events = socket, 0, []

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict:
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._socket.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, ready: str = "document.readyState === 'complete'", timeout: float = 30.0) -> Visit:
        """Load `url` and wait (up to `timeout` seconds) until the JS expression `ready` is true."""
        self._events.clear()
        visit = Visit(url)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"Boolean({ready})"):
                visit.ready = True
                break
            time.sleep(0.1)
        self.call("Runtime.evaluate", expression="0")  # drain the events queued so far
        for event in self._events:
            self._record(event, visit)
        return visit

    def screenshot(self, path: Path) -> Path:
        """The whole page (not just the window) as a PNG."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(height, 16000), deviceScaleFactor=1,
                  mobile=False)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.call("Emulation.clearDeviceMetricsOverride")
        return path

    @staticmethod
    def _record(event: dict, visit: Visit) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            visit.errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            visit.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            visit.errors.append(f"{params['entry'].get('source')}: {params['entry']['text']} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(LOCAL_SCHEMES):
                visit.remote_requests.append(url)


@contextmanager
def chromium(executable: str | None = None, timeout: float = 20.0) -> Iterator[Browser]:
    """One headless Chromium with a fresh profile, and a page to drive; closed (and the profile removed) on exit."""
    from websockets.sync.client import connect

    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="mtl-chromium-"))
    process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _devtools_port(profile, process, timeout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as answer:
            page = next(target for target in json.load(answer) if target["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout) as socket:
            browser = Browser(socket)
            for domain in ("Page", "Runtime", "Log", "Network"):
                browser.call(f"{domain}.enable")
            browser.call("Network.setBlockedURLs", urls=["http://*", "https://*", "ws://*", "wss://*"])
            yield browser
    finally:
        process.kill()  # its profile is thrown away: nothing to shut down gracefully
        process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float) -> int:
    """Chromium writes the port it chose (--remote-debugging-port=0) to DevToolsActivePort in the profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.is_file() and (lines := marker.read_text().splitlines()):
            return int(lines[0])
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before opening its DevTools port")
        time.sleep(0.05)
    raise TimeoutError(f"chromium opened no DevTools port within {timeout} s")
