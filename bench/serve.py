"""Serving throughput and latency: micro-batched vs one-request-one-forward, fp32 vs int8, side by side.

    .venv/bin/python bench/serve.py [--model FOLDER] [--seconds 5] [--rounds 5] [--threads 1]

Four servers, each a real uvicorn process on 127.0.0.1 (a free port), all started at once: `mtl serve`'s
app (micro-batched) over the fp32 model and over its int8 export, and a naive app that runs one forward
pass per request in FastAPI's thread pool (tokenized once, like the service), over each. A client in this
process keeps `concurrency` requests in flight (1, 8, 32), each one sentence of raw text from the test
split, for --seconds per level and server (at most --requests), split into --rounds rounds that visit the
servers in turn, so that the shared machine's changing load falls on all four alike; it prints requests/s,
p50/p95/p99 latency, the server process's CPU time per request (on a machine that other jobs load, the
scheduler gives a server with 32 busy threads more of the cores than one with 2, so throughput there also
measures that share; CPU per request measures the work), the ratios, and the load average. Before that it
prints the int8 export's per-task test deltas against fp32 (mtl/export.py) and the fitted cost of one
encoder call in padded tokens (serve.encoder_call_tokens). Bounded: every server is stopped, and the whole
run takes about 4 minutes on 2 cores. Prints figures; asserts nothing.

The model: --model, else runs/candidate/model, else a short model trained once from the unified dataset
in a workspace under $TMPDIR/mtl-bench-serve: a copy of params.yaml, its dataset built there with
`mtl corpora pull`, `mtl ingest`, `mtl unify` (MTL_CORPORA_MIRROR set to a corpora mirror skips downloads),
so nothing in the repository changes; later runs reuse it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CACHE = Path(tempfile.gettempdir()) / "mtl-bench-serve"
LEVELS = (1, 8, 32)


# --- the servers (each runs in its own process: `bench/serve.py --serve KIND FOLDER PORT_FILE`) -------


def naive_app(folder: Path):
    """One request, one forward pass: what a plain FastAPI wrapper around Predictor does."""
    from fastapi import FastAPI

    from mtl.quantize import load_predictor

    predictor = load_predictor(folder)
    app = FastAPI()

    @app.post("/v1/predict")
    def predict(body: dict) -> dict:  # a sync handler: FastAPI runs it in its thread pool
        tokens = predictor.tokens_of(body["sentences"])  # tokenized once: token lists pass through predict
        rows = predictor.predict(tokens)
        return {"predictions": [{"tokens": t, **row} for t, row in zip(tokens, rows)]}

    return app


def run_server(kind: str, folder: Path, port_file: Path, threads: int, params_file: Path) -> None:
    import torch
    import uvicorn

    from mtl.config import load_params
    from mtl.serve import build_app

    torch.set_num_threads(threads)
    if kind == "batched":
        app = build_app(load_params(params_file), str(folder))  # params' serve section, as shipped
    else:
        app = naive_app(folder)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, access_log=False, log_level="warning"))

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        port_file.write_text(str(server.servers[0].sockets[0].getsockname()[1]))
        await task

    asyncio.run(main())


class ServerProcess:
    def __init__(self, kind: str, folder: Path, threads: int, params_file: Path) -> None:
        self.port_file = Path(tempfile.mkdtemp(prefix="mtl-bench-")) / "port"
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(folder), str(self.port_file),
                                         "--threads", str(threads), "--params", str(params_file)])

    def __enter__(self) -> str:
        deadline = time.monotonic() + 120
        while not self.port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        time.sleep(0.1)
        return f"http://127.0.0.1:{self.port_file.read_text()}"

    def cpu_seconds(self) -> float:
        """CPU time the server process has used (every thread), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- the load -----------------------------------------------------------------------------------------


class Connection:
    """A bare HTTP/1.1 keep-alive connection: a client that costs ~0.1 ms of CPU per request, where httpx's
    async client cost ~1 ms, which on 2 shared cores was taken from the servers being measured."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        return cls(*await asyncio.open_connection(host, int(port)), host)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        return int(lines[0].split()[1]), await self.reader.readexactly(int(headers["content-length"]))

    def close(self) -> None:
        self.writer.close()


async def load(url: str, sentences: list[str], concurrency: int, seconds: float, limit: int,
               cpu_seconds: Callable[[], float]) -> dict:
    bodies = [json.dumps({"sentences": [sentence]}).encode() for sentence in sentences]
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    connections = [await Connection.open(url) for _ in range(concurrency)]
    for n, connection in enumerate(connections):  # warm-up: the first passes done
        await connection.post("/v1/predict", bodies[n % len(bodies)])
    cpu_started = cpu_seconds()
    stop_at = time.perf_counter() + seconds

    async def worker(connection: Connection) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at and (n := next(counter)) < limit:
            started = time.perf_counter()
            status, _ = await connection.post("/v1/predict", bodies[n % len(bodies)])
            latencies.append(time.perf_counter() - started)
            errors += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker(connection) for connection in connections))
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_started
    for connection in connections:
        connection.close()
    return {"latencies": latencies, "wall": wall, "cpu": cpu, "errors": errors}


def summary(rounds: list[dict]) -> dict:
    """requests/s and latency percentiles over a server's rounds at one level, pooled."""
    latencies = [latency for r in rounds for latency in r["latencies"]]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"rps": len(latencies) / sum(r["wall"] for r in rounds), "p50": cuts[49], "p95": cuts[94],
            "p99": cuts[98], "n": len(latencies), "errors": sum(r["errors"] for r in rounds),
            "cpu_ms": 1000 * sum(r["cpu"] for r in rounds) / len(latencies)}


# --- the cost of an encoder call ----------------------------------------------------------------------


def fit_call_cost(model: Path, sentences: list[str], threads: int) -> str:
    """Fits a pass's time as a + c x padded tokens over length-sorted calls of 1-64 test sentences, in this
    process on `threads` torch threads: a / c is what one more encoder call costs in padded tokens, the
    figure serve.encoder_call_tokens wants (mtl/serve/batcher.py cuts passes by it)."""
    import numpy as np
    import torch

    from mtl.model.predict import predict
    from mtl.quantize import load_predictor

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    predictor = load_predictor(model)
    tokens = sorted(predictor.tokens_of(sentences), key=len)
    shapes, seconds = [], []
    for size in (1, 2, 4, 8, 16, 32, 64):
        for start in range(0, len(tokens) - size, max(size, len(tokens) // 6)):
            call = tokens[start : start + size]
            best = min(_timed(predict, predictor.model, call, batch_size=size) for _ in range(3))
            shapes.append((1.0, size * len(call[-1])))
            seconds.append(best)
    torch.set_num_threads(previous)
    (a, c), *_ = np.linalg.lstsq(np.array(shapes), np.array(seconds), rcond=None)
    return (f"one encoder call: {a * 1000:.2f} ms + {c * 1e6:.1f} us per padded token ({len(shapes)} calls of 1-64 "
            f"length-sorted test sentences, {threads} thread(s)): a call costs {a / c:.0f} padded tokens "
            "(serve.encoder_call_tokens)")


def _timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


# --- the model ----------------------------------------------------------------------------------------


def ensure_model(params_file: Path, model: Path | None) -> tuple[Path, Path]:
    """(the model folder, the params file whose unified dataset it is scored on)."""
    if model is not None:
        return model, params_file
    if (REPO / "runs" / "candidate" / "model" / "config.json").is_file():
        return REPO / "runs" / "candidate" / "model", params_file
    workspace = CACHE / "workspace"  # a copy of params.yaml, so the dataset and run stay out of the repository
    if (workspace / "run" / "model" / "config.json").is_file():
        return workspace / "run" / "model", workspace / "params.yaml"
    from mtl.config import load_params
    from mtl.training import train

    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "params.yaml").write_text(params_file.read_text(encoding="utf-8"), encoding="utf-8")
    params = load_params(workspace / "params.yaml")
    mtl = [sys.executable, "-m", "mtl.cli"]
    if not (params.unified_dir / "train.parquet").is_file():
        print(f"building the unified dataset in {workspace}", flush=True)
        subprocess.run([*mtl, "corpora", "pull", "--no-track", "--params", str(workspace / "params.yaml")], check=True)
        for corpus in params.corpora:
            subprocess.run([*mtl, "ingest", corpus, "--params", str(workspace / "params.yaml")], check=True)
        subprocess.run([*mtl, "unify", "--params", str(workspace / "params.yaml")], check=True)
    print(f"no runs/candidate/model: training a short model (1,500 steps, 1 thread) into {workspace}", flush=True)
    short = params.training.model_copy(update={"max_steps": 1500, "eval_every": 500, "threads": 1, "max_minutes": 10})
    train(params.model_copy(update={"training": short}), data_dir=params.unified_dir, out_dir=workspace / "run")
    return workspace / "run" / "model", workspace / "params.yaml"


def test_sentences(params_file: Path, n: int = 400) -> list[str]:
    """Test sentences of every task, interleaved, as raw text (tokens joined by spaces)."""
    import pyarrow.parquet as pq

    from mtl.config import load_params

    table = pq.read_table(load_params(params_file).unified_dir / "test.parquet", columns=["task", "tokens"]).to_pylist()
    by_task: dict[str, list[str]] = {}
    for row in table:
        by_task.setdefault(row["task"], []).append(" ".join(row["tokens"]))
    mixed = [s for group in zip(*by_task.values()) for s in group]
    return mixed[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--seconds", type=float, default=5.0, help="load per concurrency level and server")
    parser.add_argument("--requests", type=int, default=3000, help="at most this many per level and server")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each server")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per level (--seconds split)")
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "FOLDER", "PORT_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        run_server(args.serve[0], Path(args.serve[1]), Path(args.serve[2]), args.threads, args.params)
        return

    from mtl.config import load_params
    from mtl.export import export_int8, to_markdown
    from mtl.offline import go_offline

    go_offline()
    started = time.perf_counter()
    model, params_file = ensure_model(args.params, args.model)
    int8_folder = Path(tempfile.mkdtemp(prefix="mtl-bench-int8-")) / "int8"
    exported = export_int8(load_params(params_file), str(model), int8_folder, force=True, reason="benchmark")
    print(f"model {model}; int8 export, test split, int8 - fp32 with paired 95% intervals:\n")
    print(to_markdown(exported.comparison))
    sentences = test_sentences(params_file)
    print(f"\n{fit_call_cost(model, sentences, args.threads)}\n", flush=True)
    servers = {"batched fp32": ("batched", model), "batched int8": ("batched", int8_folder),
               "naive fp32": ("naive", model), "naive int8": ("naive", int8_folder)}
    rounds: dict[tuple[str, int], list[dict]] = {key: [] for key in itertools.product(servers, LEVELS)}
    with contextlib.ExitStack() as stack:  # every server up at once; only the one under load works
        processes = {name: ServerProcess(kind, folder, args.threads, args.params)
                     for name, (kind, folder) in servers.items()}
        urls = {name: stack.enter_context(process) for name, process in processes.items()}
        # Each level in rounds that visit every server in turn: a change in the machine's load (it is shared)
        # falls on all of them alike instead of on whichever server ran at that moment.
        for level in LEVELS:
            for _ in range(args.rounds):
                for name, url in urls.items():
                    rounds[name, level].append(asyncio.run(load(url, sentences, level, args.seconds / args.rounds,
                                                                args.requests // args.rounds,
                                                                processes[name].cpu_seconds)))
    results = {key: summary(value) for key, value in rounds.items()}
    print(f"one sentence per request, {args.seconds:g} s per level and server in {args.rounds} interleaved rounds, "
          f"server torch threads {args.threads}, {os.cpu_count()} cores shared with the client; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| server | concurrency | requests/s | p50 ms | p95 ms | p99 ms | server CPU ms / request | requests "
          "| errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, level), r in results.items():
        print(f"| {name} | {level} | {r['rps']:.1f} | {r['p50'] * 1000:.1f} | {r['p95'] * 1000:.1f} | "
              f"{r['p99'] * 1000:.1f} | {r['cpu_ms']:.2f} | {r['n']} | {r['errors']} |")
    print("\nratios: requests/s (server CPU per request, naive / batched or fp32 / int8: what a machine of its own"
          " would turn into throughput)")
    for level in LEVELS:
        batched, naive = results["batched fp32", level], results["naive fp32", level]
        int8, naive_int8 = results["batched int8", level], results["naive int8", level]
        print(f"  concurrency {level:>2}: batched / naive (fp32) {batched['rps'] / naive['rps']:.2f}x "
              f"({naive['cpu_ms'] / batched['cpu_ms']:.2f}x); "
              f"int8 / fp32 (batched) {int8['rps'] / batched['rps']:.2f}x "
              f"({batched['cpu_ms'] / int8['cpu_ms']:.2f}x); int8 / fp32 (naive) "
              f"{naive_int8['rps'] / naive['rps']:.2f}x ({naive['cpu_ms'] / naive_int8['cpu_ms']:.2f}x)")
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
