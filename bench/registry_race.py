"""Acceptance for the registry under concurrency and faults: concurrent promotions on S3 (a moto server on
127.0.0.1), straight to it and through a proxy of our own that fails a share of the requests.

    .venv/bin/python bench/registry_race.py [--workers 8] [--rounds 10] [--fault-rate 0.2] [--seed 0]

Each round, `workers` threads promote a model each at the same moment, every one with its own store and
connection pool (like separate processes). After each round the history is read straight from the server
(no faults) and checked. Printed per mode:

    reported successes     promote() returned a version
    moves in history       history entries of `production` (plus a committed move whose entry is pending)
    lost moves             reported successes that are not a move in the history (must be 0)
    torn states            rounds after which the history is not a chain ending on the alias (must be 0)
    failed promotions      promotions whose move is not in the history, and how many of them said so

A failure injected after the server acted (a 500 or a dropped connection once the write landed) can
leave a promotion whose move landed although it reported an error, as any RPC whose answer is lost:
they are counted apart (landed, reported failed). The proxy's faults: 503 before forwarding, 500 after,
a connection dropped before forwarding and one dropped after, in equal shares.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import numpy as np
from safetensors.numpy import save_file

from mtl.registry import PRODUCTION, Registry, RegistryError
from mtl.registry.s3 import S3Store

FAULTS = ("503 before forwarding", "500 after forwarding", "drop before forwarding", "drop after forwarding")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@contextmanager
def moto(log: Path) -> Iterator[str]:
    """moto_server (beside this interpreter) on a free port of 127.0.0.1; its URL; stopped on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(log, "wb") as out:
        binary = Path(sys.executable).parent / "moto_server"
        server = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=10)


class FaultyProxy(ThreadingHTTPServer):
    """Relays HTTP/1.1 to `upstream`; a `rate` share of requests gets one of FAULTS instead."""

    daemon_threads = True

    def __init__(self, upstream: str, rate: float, seed: int) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.upstream = urlsplit(upstream)
        self.rate, self.rng, self.lock = rate, random.Random(seed), threading.Lock()
        self.requests, self.faults = 0, Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def draw(self) -> str | None:
        with self.lock:
            self.requests += 1
            fault = self.rng.choice(FAULTS) if self.rng.random() < self.rate else None
            if fault:
                self.faults[fault] += 1
            return fault

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client closing its pooled connection
            super().handle_error(request, client_address)


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultyProxy

    def relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.server.draw()
        if fault == "503 before forwarding":
            return self.error(503, "SlowDown")
        if fault == "drop before forwarding":
            return self.drop()
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        if fault == "500 after forwarding":
            return self.error(500, "InternalError")
        if fault == "drop after forwarding":
            return self.drop()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        head = self.command == "HEAD"  # the object's length, no body
        self.send_header("Content-Length", answer.headers.get("Content-Length", "0") if head else str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = relay

    def error(self, status: int, code: str) -> None:
        data = f"<Error><Code>{code}</Code><Message>injected by the proxy</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *args: object) -> None:
        pass


def model_folder(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True)
    weights = np.random.default_rng(seed).standard_normal((64, 32)).astype(np.float32)
    save_file({"encoder.weight": weights}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"seed": seed}))
    return folder


def connected(endpoint: str, bucket: str, session: boto3.session.Session) -> S3Store | RegistryError:
    """A store with its own client, made here: a boto3 session must not create clients from several threads."""
    store = S3Store(bucket, "models", endpoint_url=endpoint, region="us-east-1", session=session)
    try:
        assert store.client
    except RegistryError as error:
        return error
    return store


def race(endpoint: str, bucket: str, folders: list[Path], rounds: int, session: boto3.session.Session,
         direct: Registry) -> dict[str, object]:
    """`rounds` rounds of len(folders) concurrent promotions through `endpoint`; the figures."""
    extras = {"gate": {"verdict": "pass"}}
    outcomes: dict[str, str | None] = {}  # reason -> the version promote() returned, or None: it raised
    torn, errors = 0, Counter()
    for round_ in range(rounds):
        stores = [connected(endpoint, bucket, session) for _ in folders]
        start = threading.Barrier(len(folders))

        def promote(i: int) -> None:
            reason = f"round {round_} worker {i}"
            start.wait()
            try:
                if isinstance(stores[i], RegistryError):
                    raise stores[i]  # its connection check failed, every retry too
                registry = Registry(stores[i], actor=lambda: f"worker{i}")
                outcomes[reason] = registry.promote(folders[i], extras, reason=reason)
            except Exception as error:  # noqa: BLE001 - a failed promotion is a figure here
                outcomes[reason] = None
                errors[f"{type(error).__name__}: {error}"] += 1

        threads = [threading.Thread(target=promote, args=(i,)) for i in range(len(folders))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        problems = direct.audit(PRODUCTION)
        torn += bool(problems)
        for problem in problems:
            print(f"  round {round_}: torn: {problem}", flush=True)
    logged = {move["reason"] for move in direct.history(PRODUCTION)}
    landed = {reason for reason in outcomes if reason in logged}
    failed = [reason for reason in outcomes if reason not in landed]
    return {
        "promotions": len(outcomes),
        "reported successes": sum(v is not None for v in outcomes.values()),
        "moves in history": len(direct.history(PRODUCTION)),
        "lost moves": sum(v is not None and r not in landed for r, v in outcomes.items()),
        "torn states": torn,
        "failed promotions": len(failed),
        "failed, reported as failed": sum(outcomes[r] is None for r in failed),
        "landed, reported failed": sum(outcomes[r] is None for r in landed),
        "incomplete versions left": sum(not row["complete"] for row in direct.list_versions(include_incomplete=True)),
        "errors reported": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # moto's fake keys, for a server on 127.0.0.1 only; a real bucket takes the AWS chain's.
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="us-east-1")
    with tempfile.TemporaryDirectory() as temp, moto(Path(temp) / "moto.log") as server:
        folders = [model_folder(Path(temp) / f"model{i}", i) for i in range(args.workers)]
        proxy = FaultyProxy(server, args.fault_rate, args.seed)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        results = {}
        for mode, endpoint in (("plain", server), (f"{args.fault_rate:.0%} faults", proxy.url)):
            bucket = f"race-{uuid.uuid4().hex[:8]}"
            session.client("s3", endpoint_url=server).create_bucket(Bucket=bucket)
            direct = Registry(S3Store(bucket, "models", endpoint_url=server, region="us-east-1", session=session))
            print(f"{mode}: {args.workers} concurrent promotions x {args.rounds} rounds ...", flush=True)
            started = time.perf_counter()
            results[mode] = race(endpoint, bucket, folders, args.rounds, session, direct)
            results[mode]["seconds"] = round(time.perf_counter() - started, 1)
        proxy.shutdown()
    print(f"\nproxy: {proxy.requests} requests, faults injected: {dict(proxy.faults)}\n")
    modes = list(results)
    print(f"{'':30}" + "".join(f"{mode:>14}" for mode in modes))
    for figure in results[modes[0]]:
        if figure != "errors reported":
            print(f"{figure:30}" + "".join(f"{results[mode][figure]:>14}" for mode in modes))
    for mode in modes:
        for message, count in results[mode]["errors reported"].items():
            print(f"{mode}: {count} x {message}")
    bad = [mode for mode in modes if results[mode]["lost moves"] or results[mode]["torn states"]
           or results[mode]["failed promotions"] != results[mode]["failed, reported as failed"]]
    print("\nOK: no lost move, no torn state, every failed promotion reported as failed" if not bad
          else f"\nFAILED in {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
