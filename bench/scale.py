"""Does the data plane stay linear in time and flat in memory as the corpora grow? (issue 17)

For each size k (--sizes, default 1,10,30) a temporary workspace gets the shared corpora replicated k times (each
corpus file k copies of its units; copy r > 0 of every unit carries one extra word "r<r>" written in the file's own
syntax: a token line in CoNLL-U and CoNLL, a word in a TSV text column or a TREC question, so no copy is an exact
duplicate of another and the duplicate, overlap and leakage checks see what they see at 1x, k times). Then, each
in its own process, measured from outside:

- ingest: `mtl ingest <corpus>` for every corpus, one after another (the time is the sum, the memory the largest);
- unify: `mtl unify`;
- load: the training data load of the unified train split (mtl/training/data.py's load_training_data);
- flow sequential, flow dask: `python -m flows.dataset` on a fresh git + DVC copy of the workspace (pull, `dvc add`,
  every ingest stage, unify), data_flow.task_runner sequential then dask (a local cluster of data_flow.dask_workers).

Memory: "tree MB" is the largest sum of the resident memory of the command's process tree (psutil, polled every
0.1 s: a spike shorter than that can be missed); "max proc MB" is ru_maxrss of the largest single process in the
tree (exact, from wait4). Then, per step, time per 1x unit (t_k / (k t_1); linear is 1.0, the issue allows 1.3) and
peak memory against 1x (the issue allows 1.5). Every temporary folder is removed and every process the bench
started is ended, also on a timeout (--timeout seconds per command) or Ctrl-C.

    MTL_CORPORA_MIRROR=/work/shared/corpora .venv/bin/python bench/scale.py --sizes 1,10
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtl.config import Params  # noqa: E402

OFFLINE = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "DVC_NO_ANALYTICS": "1",
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "GX_ANALYTICS_ENABLED": "false"}
LOAD = """
import sys
from pathlib import Path
from mtl.config import load_params
from mtl.training import data
params = load_params(Path(sys.argv[1]))
if hasattr(data, "load_training_data"):
    tasks, _ = data.load_training_data(params, params.unified_dir)
else:  # before the lazy loader: read the split and every example's texts
    tasks = data.read_split(params.unified_dir, "train", params.tasks, data.read_labels(params.unified_dir / params.paths.labels))
    for task in tasks.values():
        task.inputs
print(sum(len(task.rows) for task in tasks.values()), "train rows loaded")
"""


# --- replicating the corpora, each format in its own syntax -------------------------------------------------

def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks, each with its lines' ends, the separating blank line(s) included."""
    blocks, current = [], []
    for line in text.splitlines(keepends=True):
        current.append(line)
        if not line.strip():
            blocks.append("".join(current))
            current = []
    if current:
        blocks.append("".join(current))
    return blocks


def _conllu_copy(block: str, mark: str) -> str:
    lines = block.splitlines(keepends=True)
    ids = [int(line.split("\t", 1)[0]) for line in lines if line.split("\t", 1)[0].isdecimal()]
    if not ids:
        return block
    end = max(i for i, line in enumerate(lines) if line.strip()) + 1
    eol = "\r\n" if lines[0].endswith("\r\n") else "\n"
    out = []
    for line in lines[:end]:
        if line.startswith(("# text =", "# sent_id =")):
            line = line.rstrip("\r\n") + (" " if line.startswith("# text") else "-") + mark + eol
        out.append(line)
    out.append(f"{max(ids) + 1}\t{mark}\t{mark}\tX\tADD\t_\t{ids[0]}\tdep\t_\t_{eol}")
    return "".join(out + lines[end:])


def _conll_copy(block: str, mark: str, separator: str) -> str:
    lines = block.splitlines(keepends=True)
    if not any(line.strip() for line in lines):
        return block
    end = max(i for i, line in enumerate(lines) if line.strip()) + 1
    eol = "\r\n" if lines[0].endswith("\r\n") else "\n"
    return "".join(lines[:end] + [f"{mark}{separator}O{eol}"] + lines[end:])


def _with_word(field: str, mark: str) -> str:
    text = field.rstrip()
    return f"{text} {mark}{field[len(text):]}"


def replicate(text: str, copies: int, corpus: dict, file: dict) -> str:
    """The file's units `copies` times; copy r > 0 carries the word "r<r>"."""
    options = {**corpus.get("options", {}), **file.get("options", {})}
    kind = corpus["format"]
    if kind in ("conllu", "conll"):
        blocks = _blocks(text)
        separator = {"tab": "\t", "space": " "}.get(options.get("separator", "tab"), "\t")
        copy = (lambda b, m: _conllu_copy(b, m)) if kind == "conllu" else (lambda b, m: _conll_copy(b, m, separator))
        if blocks and not blocks[-1].endswith(("\n\n", "\r\n\r\n")) and blocks[-1].strip():
            blocks[-1] += "\n"  # the last sentence ended by the file: a copy after it needs its blank line
        return "".join(blocks) + "".join(copy(b, f"r{r}") for r in range(1, copies) for b in blocks)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):  # the last line ended by the file: copies need it ended
        lines[-1] += "\r\n" if lines[0].endswith("\r\n") else "\n"
    if kind == "label_prefixed":
        body = lines
        mark = lambda line, m: _with_word(line.rstrip("\r\n"), m) + line[len(line.rstrip("\r\n")):]  # noqa: E731
        return "".join(body) + "".join(mark(line, f"r{r}") for r in range(1, copies) for line in body if line.strip())
    if kind != "delimited":
        raise SystemExit(f"bench/scale.py: no replication for format {kind!r}: add one")
    delimiter = options.get("delimiter", "\t")
    header = lines[:1] if options.get("header", False) else []
    body = lines[len(header):]
    names = header[0].rstrip("\r\n").split(delimiter) if header else []
    columns = [options[key] for key in ("text_column", "text_b_column") if options.get(key) is not None]
    at = [names.index(c) if isinstance(c, str) else int(c) for c in columns]

    def mark(line: str, m: str) -> str:
        content = line.rstrip("\r\n")
        fields = content.split(delimiter)
        for i in at:
            if i < len(fields):
                fields[i] = _with_word(fields[i], m)
        return delimiter.join(fields) + line[len(content):]

    return "".join(lines) + "".join(mark(line, f"r{r}") for r in range(1, copies) for line in body if line.strip())


def replicated_mirror(shared: Path, mirror: Path, copies: int, corpora: dict) -> dict:
    """Write the replicated corpora under `mirror`; corpora params with their sha256s (no urls: never fetched)."""
    corpora = yaml.safe_load(yaml.safe_dump(corpora))
    written: dict[Path, str] = {}
    for name, corpus in corpora.items():
        folder = corpus.get("mirror_name", name)
        encoding = corpus.get("options", {}).get("encoding", "utf-8")
        for file in corpus["files"].values():
            target = mirror / folder / file["path"]
            if target not in written:  # SICK.txt serves two corpora: replicated once
                text = (shared / folder / file["path"]).read_bytes().decode(encoding)
                data = replicate(text, copies, corpus, file).encode(encoding)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                written[target] = hashlib.sha256(data).hexdigest()
            file["sha256"] = written[target]
            file.pop("url", None)
    return corpora


# --- measuring a command from outside --------------------------------------------------------------------

@dataclass
class Measured:
    seconds: float
    tree_mb: float  # largest polled sum of the process tree's RSS
    max_proc_mb: float  # ru_maxrss of the largest process of the tree
    ok: bool
    tail: str = ""


def measure(command: list[str], env: dict[str, str], cwd: Path, timeout: float, log: Path) -> Measured:
    """Run `command` in its own session; poll its tree's memory; end the whole session whatever happens."""
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        peak = [0.0]
        done = threading.Event()

        def poll() -> None:
            try:
                root = psutil.Process(process.pid)
            except psutil.Error:
                return
            while not done.is_set():
                total = 0
                try:
                    for p in [root, *root.children(recursive=True)]:
                        try:
                            total += p.memory_info().rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    break
                peak[0] = max(peak[0], total / 2**20)
                done.wait(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        usage, ok = None, False
        try:
            while time.perf_counter() - start < timeout:
                pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
                if pid:  # reaped here, so Popen must not wait for it again
                    usage, ok, process.returncode = rusage, status == 0, os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.05)
            else:
                out.write(f"\nbench/scale.py: timed out after {timeout:.0f} s\n")
        finally:
            seconds = time.perf_counter() - start
            done.set()
            poller.join()
            _end_session(process.pid)  # on a timeout, Ctrl-C or an orphan left behind
            if process.returncode is None:
                process.wait()
    tail = "" if ok else log.read_text(errors="replace")[-3000:]
    return Measured(seconds, peak[0], (usage.ru_maxrss / 1024) if usage else 0.0, ok, tail)


def _end_session(pid: int) -> None:
    """Kill what is left of the command's session (a Dask worker, a Prefect server): only processes we started."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- workspaces -----------------------------------------------------------------------------------------

def write_params(root: Path, corpora: dict, **sections: dict) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["corpora"] = corpora
    params.update(sections)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root / "params.yaml"


def dvc_workspace(root: Path, corpora: dict, env: dict[str, str], **sections: dict) -> Path:
    """A git + DVC repository with the project's pipeline definition and code (as harness/workspace.py makes)."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(REPO / "mtl", root / "mtl", ignore=shutil.ignore_patterns("__pycache__"))
    params_file = write_params(root, corpora, **sections)
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                    [sys.executable, "-m", "dvc", "config", "core.analytics", "false"],
                    [sys.executable, "-m", "dvc", "config", "core.check_update", "false"]):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return params_file


def dask_available() -> str | None:
    """None when the dataset flow can run on Dask here, else why not."""
    if "data_flow" not in Params.model_fields:
        return "params has no data_flow section yet"
    if importlib.util.find_spec("prefect_dask") is None:
        return "prefect-dask is not installed"
    if "dask" not in (REPO / "flows" / "dataset.py").read_text():
        return "flows/dataset.py has no Dask task runner yet"
    return None


def run_size(copies: int, shared: Path, timeout: float, flows: bool) -> dict[str, Measured | str]:
    mtl = [sys.executable, "-m", "mtl.cli"] if not shutil.which("mtl", path=str(Path(sys.executable).parent)) \
        else [str(Path(sys.executable).parent / "mtl")]
    results: dict[str, Measured | str] = {}
    with tempfile.TemporaryDirectory(prefix=f"mtl-bench-scale-{copies}x-") as tmp_name:
        tmp = Path(tmp_name)
        default = yaml.safe_load((REPO / "params.yaml").read_text())
        corpora = replicated_mirror(shared, tmp / "mirror", copies, default["corpora"])
        env = {**os.environ, **OFFLINE, "MTL_CORPORA_MIRROR": str(tmp / "mirror"), "PREFECT_HOME": str(tmp / "prefect"),
               "PYTHONPATH": str(REPO)}
        env.pop("PREFECT_API_URL", None)  # an ephemeral Prefect per flow run: nothing outside the temp folder
        plain = tmp / "plain"
        plain.mkdir()
        params_file = write_params(plain, corpora)
        subprocess.run([*mtl, "corpora", "pull", "--no-track", "--params", str(params_file)], env=env, cwd=plain,
                       check=True, capture_output=True)
        ingests = [measure([*mtl, "ingest", name, "--params", str(params_file)], env, plain, timeout,
                           tmp / f"ingest-{name}.log") for name in corpora]
        results["ingest"] = Measured(sum(m.seconds for m in ingests), max(m.tree_mb for m in ingests),
                                     max(m.max_proc_mb for m in ingests), all(m.ok for m in ingests),
                                     "".join(m.tail for m in ingests))
        results["unify"] = measure([*mtl, "unify", "--params", str(params_file)], env, plain, timeout, tmp / "unify.log")
        results["load"] = measure([sys.executable, "-c", LOAD, str(params_file)], env, plain, timeout, tmp / "load.log")
        manifest = plain / "data" / "unified" / "manifest.json"
        results["rows"] = manifest.read_text() if manifest.is_file() else ""
        shutil.rmtree(plain / "data")  # the flows below rebuild it: free the disk first
        missing = dask_available()
        for runner in ("sequential", "dask"):
            if not flows:
                results[f"flow {runner}"] = "not run at this size (--flow-sizes)"
                continue
            if runner == "dask" and missing:
                results[f"flow {runner}"] = f"not available ({missing})"
                continue
            root = tmp / f"flow-{runner}"
            flow_params = dvc_workspace(root, corpora, env, data_flow={**default.get("data_flow", {}),
                                                                       "task_runner": runner})
            results[f"flow {runner}"] = measure([sys.executable, "-m", "flows.dataset", "--params", str(flow_params)],
                                                env, REPO, timeout, tmp / f"flow-{runner}.log")
            shutil.rmtree(root)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,30", help="replication factors, comma-separated (1 first)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per command before it is killed")
    parser.add_argument("--flow-sizes", default=None, help="sizes that also run the two dataset-flow rows "
                        "(sequential, dask; default: every size; '' for none): each rebuilds the dataset through DVC")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    flow_sizes = sizes if args.flow_sizes is None else [int(s) for s in args.flow_sizes.split(",") if s]
    shared = Path(os.environ.get("MTL_CORPORA_MIRROR", "/work/shared/corpora"))
    print(f"bench/scale.py: sizes {sizes}; corpora from {shared}; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at start", flush=True)
    table: dict[int, dict] = {}
    for k in sizes:
        table[k] = run_size(k, shared, args.timeout, k in flow_sizes)
        rows = _train_rows(table[k].pop("rows"))
        print(f"\n{k}x ({rows} unified rows); load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"| {'step':<16} | {'seconds':>8} | {'tree MB':>8} | {'max proc MB':>11} |")
        print(f"|{'-' * 18}|{'-' * 9}:|{'-' * 9}:|{'-' * 12}:|")
        for step, m in table[k].items():
            if isinstance(m, str):
                print(f"| {step:<16} | {m} |")
            else:
                flag = "" if m.ok else "  FAILED: " + m.tail.strip().splitlines()[-1][:200] if m.tail.strip() else "  FAILED"
                print(f"| {step:<16} | {m.seconds:>8.1f} | {m.tree_mb:>8.0f} | {m.max_proc_mb:>11.0f} |{flag}")
        sys.stdout.flush()
    base = sizes[0]
    if len(sizes) > 1:
        print(f"\nAgainst {base}x: time per {base}x unit t_k / (k/{base} t_{base}) (linear = 1.00, allowed 1.3) and peak "
              f"memory m_k / m_{base} (allowed 1.5), tree MB / max proc MB")
        print("| step | " + " | ".join(f"{k}x time" for k in sizes[1:]) + " | "
              + " | ".join(f"{k}x memory" for k in sizes[1:]) + " |")
        print("|---|" + "---:|" * (2 * (len(sizes) - 1)))
        for step, first in table[base].items():
            if isinstance(first, str) or not first.ok:
                continue
            later = [table[k][step] for k in sizes[1:]]
            if any(isinstance(m, str) or not m.ok for m in later):
                continue
            times = [f"{m.seconds / (first.seconds * k / base):.2f}" for m, k in zip(later, sizes[1:])]
            memory = [f"{m.tree_mb / first.tree_mb:.2f} / {m.max_proc_mb / first.max_proc_mb:.2f}" for m in later]
            print(f"| {step} | " + " | ".join(times) + " | " + " | ".join(memory) + " |")


def _train_rows(manifest_text: str) -> str:
    if not manifest_text:
        return "?"
    import json
    splits = json.loads(manifest_text)["splits"]
    return " + ".join(f"{entry['rows']:,} {split}" for split, entry in splits.items())


if __name__ == "__main__":
    main()
