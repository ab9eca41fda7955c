"""Does the data plane stay linear in time and flat in memory as the corpora grow? (issue 17)

For each size k (--sizes, default 1,10,30) a temporary workspace gets the shared corpora replicated k times (each
corpus file k copies of its units, in the file's own syntax: copy r > 0 of a unit has its words in a fixed shuffled
order per (r, length) and one extra word "r<r>" (a token line in CoNLL-U and CoNLL, a word in a TSV text column or
a TREC question), so no copy duplicates another, copies share few word bigrams, and the duplicate, overlap and
leakage checks see about what they see at 1x, k times; the vocabulary grows by k words, not k-fold). Then, each
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
started is ended, also on a timeout (--timeout seconds per command), Ctrl-C or a kill (SIGTERM).

    MTL_CORPORA_MIRROR=../shared/corpora .venv/bin/python bench/scale.py --sizes 1,10
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import random
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


def _order(copy: int, n: int) -> list[int]:
    """Copy `copy`'s word order for a text of n words: one fixed shuffle per (copy, length), so two texts that are
    equal (or differ in a word) at 1x are so in every copy too, while a copy and another share few word bigrams
    (else every long sentence would be a near-duplicate of its own copies, k^2 pairs for the leakage check)."""
    order = list(range(n))
    random.Random(copy * 1_000_003 + n).shuffle(order)
    return order


def _conllu_copy(block: str, copy: int) -> str:
    """Token lines shuffled and renumbered (multiword ranges and empty nodes left out: they read no token), one
    token line "r<copy>" added; # text follows, # sent_id gets the copy's suffix."""
    lines = block.splitlines(keepends=True)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    words = [line.rstrip("\r\n").split("\t") for line in lines if line.split("\t", 1)[0].isdecimal()]
    if not words:
        return block
    words = [words[i] for i in _order(copy, len(words))] + [["", f"r{copy}", f"r{copy}", "X", "ADD", "_", "1", "dep",
                                                             "_", "_"]]
    out = []
    for line in lines:
        if line.startswith("# text ="):
            line = "# text = " + " ".join(w[1] for w in words) + eol
        elif line.startswith("# sent_id ="):
            line = line.rstrip("\r\n") + f"-r{copy}" + eol
        if line.startswith("#"):
            out.append(line)
    out += ["\t".join([str(i + 1), *w[1:]]) + eol for i, w in enumerate(words)]
    return "".join(out) + eol


def _conll_copy(block: str, copy: int, separator: str) -> str:
    lines = [line for line in block.splitlines(keepends=True) if line.strip()]
    if not lines:
        return block
    eol = "\r\n" if lines[0].endswith("\r\n") else "\n"
    chunks: list[list[str]] = []  # an entity's tokens move together (B-x I-x ...), so the tags stay valid BIO
    for line in lines:
        if line.rstrip("\r\n").split(separator)[-1].startswith("I-") and chunks:
            chunks[-1].append(line.rstrip("\r\n") + eol)
        else:
            chunks.append([line.rstrip("\r\n") + eol])
    return "".join("".join(chunks[i]) for i in _order(copy, len(chunks))) + f"r{copy}{separator}O{eol}" + eol


def _text_copy(text: str, copy: int) -> str:
    """A whitespace-tokenised text field: its words shuffled, the word "r<copy>" added; trailing blanks kept."""
    words = text.split()
    return " ".join([*(words[i] for i in _order(copy, len(words))), f"r{copy}"]) + text[len(text.rstrip()):]


def replicate(text: str, copies: int, corpus: dict, file: dict) -> str:
    """The file's units `copies` times; copy r > 0 shuffled (_order) and carrying the word "r<r>"."""
    options = {**corpus.get("options", {}), **file.get("options", {})}
    kind = corpus["format"]
    if kind in ("conllu", "conll"):
        blocks = _blocks(text)
        separator = {"tab": "\t", "space": " "}.get(options.get("separator", "tab"), "\t")
        copy = (lambda b, r: _conllu_copy(b, r)) if kind == "conllu" else (lambda b, r: _conll_copy(b, r, separator))
        if blocks and not blocks[-1].endswith(("\n\n", "\r\n\r\n")) and blocks[-1].strip():
            blocks[-1] += "\n"  # the last sentence ended by the file: a copy after it needs its blank line
        return "".join(blocks) + "".join(copy(b, r) for r in range(1, copies) for b in blocks if b.strip())
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):  # the last line ended by the file: copies need it ended
        lines[-1] += "\r\n" if lines[0].endswith("\r\n") else "\n"
    if kind == "label_prefixed":
        def mark(line: str, r: int) -> str:
            content = line.rstrip("\r\n")
            label, _, question = content.partition(" ")
            return f"{label} {_text_copy(question, r)}" + line[len(content):]
        return "".join(lines) + "".join(mark(line, r) for r in range(1, copies) for line in lines if line.strip())
    if kind != "delimited":
        raise SystemExit(f"bench/scale.py: no replication for format {kind!r}: add one")
    delimiter = options.get("delimiter", "\t")
    header = lines[:1] if options.get("header", False) else []
    body = lines[len(header):]
    names = header[0].rstrip("\r\n").split(delimiter) if header else []
    columns = [options[key] for key in ("text_column", "text_b_column") if options.get(key) is not None]
    at = [names.index(c) if isinstance(c, str) else int(c) for c in columns]

    def mark(line: str, r: int) -> str:
        content = line.rstrip("\r\n")
        fields = content.split(delimiter)
        for i in at:
            if i < len(fields):
                fields[i] = _text_copy(fields[i], r)
        return delimiter.join(fields) + line[len(content):]

    return "".join(lines) + "".join(mark(line, r) for r in range(1, copies) for line in body if line.strip())


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


# The command is started by this small launcher, which reports the command's ru_maxrss: Linux counts the memory
# of the process that forked into a child's ru_maxrss (the pre-exec image), and this bench holds the replicated
# corpora (800 MB at 10x), which the command's figure would otherwise report.
LAUNCH = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(command: list[str], env: dict[str, str], cwd: Path, timeout: float, log: Path) -> Measured:
    """Run `command` in its own session; poll its tree's memory; end the whole session whatever happens."""
    maxrss_file = log.with_suffix(".maxrss")
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", LAUNCH, str(maxrss_file), *command], env=env, cwd=cwd,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
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
    lines = log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "Error" in line or "error:" in line or "Traceback" in line]
    tail = "" if ok else "\n".join((errors[-3:] or lines[-3:]))
    maxrss = int(maxrss_file.read_text()) / 1024 if usage and maxrss_file.is_file() else 0.0
    return Measured(seconds, peak[0], maxrss, ok, tail)


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
        # its default 20 s to start was too short for the Dask workers' connections on a loaded 2-core machine
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
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
    # a kill (SIGTERM) unwinds like Ctrl-C: the running command's session is ended and the temp folders removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",")]
    flow_sizes = sizes if args.flow_sizes is None else [int(s) for s in args.flow_sizes.split(",") if s]
    shared = Path(os.environ.get("MTL_CORPORA_MIRROR", REPO.parent / "shared" / "corpora")).resolve()  # as the Makefile
    print(f"bench/scale.py: sizes {sizes}; corpora from {shared}; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at start", flush=True)
    table: dict[int, dict] = {}
    started = time.perf_counter()
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
                flag = "" if m.ok else "  FAILED: " + " / ".join(line.strip()[:160] for line in m.tail.splitlines())
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
    print(f"\nbench/scale.py: {(time.perf_counter() - started) / 60:.1f} min in all; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")


def _train_rows(manifest_text: str) -> str:
    if not manifest_text:
        return "?"
    import json
    splits = json.loads(manifest_text)["splits"]
    return " + ".join(f"{entry['rows']:,} {split}" for split, entry in splits.items())


if __name__ == "__main__":
    main()
