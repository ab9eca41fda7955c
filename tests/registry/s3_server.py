"""A real S3-compatible server for tests: moto's HTTP server on 127.0.0.1, plus fake credentials.

Used by tests/registry/conftest.py and tests/test_dvc_s3_remote.py (a conftest's fixtures are not
visible outside its folder, so the pieces live here).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Everything else that could point boto3 or DVC elsewhere, or make them look for credentials in
# places a developer's machine may fill (profiles, instance metadata: a network call).
AWS_VARIABLES = (
    "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "MTL_S3_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_MAX_ATTEMPTS",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def moto_server(log_file: Path, timeout: float = 30.0, attempts: int = 3) -> Iterator[str]:
    """Start `moto_server` (the one beside this interpreter) on a free port; yield its URL; stop it. A port
    taken between free_port() and the server's bind (pytest-xdist workers start servers at the same time)
    costs another attempt on another port."""
    binary = Path(sys.executable).parent / "moto_server"
    for _ in range(attempts):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log_file, "wb") as log:  # a file, not a pipe: a full pipe would block the server
            process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)],
                                       stdout=log, stderr=subprocess.STDOUT)
            try:
                if _answers(url, process, log_file, timeout):
                    yield url
                    return
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    raise RuntimeError(f"moto_server found no free port in {attempts} attempts:\n{log_file.read_text()}")


def _answers(url: str, process: subprocess.Popen, log_file: Path, timeout: float) -> bool:
    """True once the server answers; False when its port was taken; a RuntimeError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "address already in use" in log_file.read_text().lower():
                return False
            raise RuntimeError(f"moto_server exited with {process.returncode}:\n{log_file.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return process.poll() is None  # not another process's server on a reused port
        except urllib.error.HTTPError:
            return process.poll() is None  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto_server did not answer on {url} within {timeout} s:\n{log_file.read_text()}")


def use_fake_aws(monkeypatch: pytest.MonkeyPatch, home: Path, *, credentials: bool = True) -> None:
    """The environment of one test: fake keys (or none at all), a region, no profile, no metadata service."""
    for name in (*AWS_VARIABLES, *FAKE_CREDENTIALS):
        monkeypatch.delenv(name, raising=False)
    if credentials:
        for name, value in FAKE_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
