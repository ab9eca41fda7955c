"""Peak memory and wall time of `mtl ingest` on SST-2 with its train file replicated N times, per version of the code.

    python bench/ingest_memory.py --sizes 1 10 --old /tmp/old --chunks 10000 50000

Each run is a child process (`mtl ingest sst2` of the code under test, in a temporary workspace of its own: that
code's params.yaml, data/raw/sst2 with train.tsv's rows repeated N times under one header); its peak resident
memory is the child's own ru_maxrss (os.wait4), not the benchmark's. --old: a checkout of an earlier commit (git
worktree add /tmp/old <commit>) run the same way, for a side-by-side ratio in the same run on the same machine.
Replicated rows are distinct records (their lines differ), so every check sees the same fractions at every size;
train/test overlap grows with N and is a warning either way. "same records": the accepted records, sorted by uid,
equal those of the size's first row (the old code's, with --old). Everything is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("MTL_CORPORA_MIRROR", REPO.parent / "shared" / "corpora"))


def workspace(root: Path, code: Path, size: int, chunk: int | None) -> Path:
    """A folder holding the code's params.yaml (chunk_records set when given) and SST-2 at `size` times its train."""
    root.mkdir(parents=True)
    params = (code / "params.yaml").read_text(encoding="utf-8")
    if chunk is not None:
        params, found = re.subn(r"(?m)^  chunk_records: \d+", f"  chunk_records: {chunk}", params)
        if not found:
            raise SystemExit(f"{code}/params.yaml has no ingest.chunk_records to change")
    (root / "params.yaml").write_text(params, encoding="utf-8")
    raw = root / "data" / "raw" / "sst2"
    raw.mkdir(parents=True)
    for name in ("dev.tsv", "sentiment-test"):
        shutil.copy(MIRROR / "sst2" / name, raw / name)
    header, *rows = (MIRROR / "sst2" / "train.tsv").read_bytes().splitlines(keepends=True)
    with (raw / "train.tsv").open("wb") as train:
        train.write(header)
        for _ in range(size):
            train.writelines(rows)
    return root


def run_ingest(code: Path, root: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak MB) of one `mtl ingest sst2` of `code` in `root`. CPU time (user + system,
    the child's own) is the steadier figure on a machine others share: wall time there includes their load."""
    env = {**os.environ, "PYTHONPATH": str(code)}  # before the venv's editable install: this code's mtl
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", "from mtl.cli import main; main()", "ingest", "sst2",
                              "--params", str(root / "params.yaml")], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    errors = child.stderr.read().decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"{code}: mtl ingest failed ({child.returncode}):\n{errors[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: ru_maxrss in kilobytes


def outputs(root: Path) -> tuple[dict, object]:
    import pyarrow.parquet as pq  # here, not at the top: see main

    folder = root / "data" / "interim" / "sst2"
    records = folder / "records" if (folder / "records").is_dir() else folder / "records.parquet"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return report, pq.read_table(records).sort_by("uid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--old", type=Path, help="a checkout of the code before (git worktree add)")
    parser.add_argument("--chunks", type=int, nargs="*", default=[],
                        help="ingest.chunk_records values to run the new code with besides params.yaml's")
    args = parser.parse_args()

    versions = ([("old", args.old, None)] if args.old else []) + [("new", REPO, None)]
    versions += [(f"new, chunk {chunk}", REPO, chunk) for chunk in args.chunks]
    runs = []
    with tempfile.TemporaryDirectory(prefix="ingest-memory-") as tmp:
        # every run first, with nothing big in this process: a child's ru_maxrss counts the memory it had between
        # fork and exec, which is this process's, so a parent holding the tables read back would inflate it
        for size in args.sizes:
            for label, code, chunk in versions:
                root = workspace(Path(tmp) / f"{size}x-{len(runs)}", code, size, chunk)
                wall, cpu, peak = run_ingest(code, root)
                shutil.rmtree(root / "data" / "raw")
                runs.append((size, label, root, wall, cpu, peak))
                print(f"{size}x {label}: {wall:.1f} s, CPU {cpu:.1f} s, {peak:.0f} MB", file=sys.stderr, flush=True)
        rows, reference = [], {}
        for size, label, root, wall, cpu, peak in runs:
            report, table = outputs(root)
            first = reference.setdefault(size, (report, table))
            same = "" if first[1] is table else (
                "yes" if table.equals(first[1]) and report["accepted"] == first[0]["accepted"] else "NO")
            rows.append((size, label, report["read"], report["accepted"], wall, cpu, peak, same))

    print("| train x | code | read | accepted | wall s | CPU s | CPU / old | peak MB | peak / old | same records |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    old = {size: (cpu, peak) for size, label, _, _, _, cpu, peak, _ in rows if label == "old"}
    for size, label, read, accepted, wall, cpu, peak, same in rows:
        cpu_ratio, peak_ratio = (f"{cpu / old[size][0]:.2f}", f"{peak / old[size][1]:.2f}") if size in old else ("", "")
        print(f"| {size} | {label} | {read:,} | {accepted:,} | {wall:.1f} | {cpu:.1f} | {cpu_ratio} | {peak:.0f} | "
              f"{peak_ratio} | {same} |")


if __name__ == "__main__":
    main()
