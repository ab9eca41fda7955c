"""The shape of the code: no import cycle in mtl/ (function-level and TYPE_CHECKING imports counted), the layers
import downward only, and every dvc.yaml stage lists the code its command loads (so lineage cannot go stale)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# Bottom to top. A module imports only its own layer or the ones below (no cycle inside a layer either).
# The task kinds and the readers' formats sit below config because params are parsed once into typed objects:
# each task's options by its kind's model, each corpus's reader options by its format's.
LAYERS = [
    ("base", ["mtl.errors", "mtl.records", "mtl.offline", "mtl.urls", "mtl.logs"]),
    ("plugins", ["mtl.tasks", "mtl.corpora"]),  # the readers; fetching corpora is data work, below
    ("config", ["mtl.config"]),
    ("data", ["mtl.corpora.fetch", "mtl.validation", "mtl.extra", "mtl.shards", "mtl.ingest", "mtl.leakage",
              "mtl.drift", "mtl.minhash", "mtl.splits", "mtl.dataset"]),
    ("model", ["mtl.model"]),
    ("training", ["mtl.training"]),
    ("evaluation", ["mtl.evaluation"]),
    ("gate", ["mtl.gate"]),
    ("registry", ["mtl.registry"]),
    ("stages", ["mtl.lineage", "mtl.stages", "mtl.baseline", "mtl.transfer", "mtl.pipeline", "mtl.changes",
                "mtl.notify", "mtl.schedule", "mtl.quantize", "mtl.export", "mtl.serve", "mtl.report", "mtl.run"]),
    ("cli", ["mtl.cli", "mtl"]),
]


def modules() -> dict[str, Path]:
    found = {}
    for path in (REPO / "mtl").rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every mtl module `name` imports, anywhere in the file (top level, functions, TYPE_CHECKING blocks)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]

    def resolve(dotted: str) -> str | None:
        parts = dotted.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        return ".".join(parts) or None

    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {resolve(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out |= {resolve(f"{base}.{alias.name}") or resolve(base) for alias in node.names}
    return {module for module in out if module and module != name}


def layer_of(name: str) -> int:
    best = max(((len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
                if name == prefix or name.startswith(prefix + ".")), default=None)
    if best is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS")
    return best[1]


def test_no_import_cycle_in_mtl():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for name in graph:
        if name not in index:
            visit(name)
    assert cycles == [], f"import cycles: {cycles}"


def test_layers_import_downward_only():
    known = modules()
    upward = [(name, target) for name, path in known.items() for target in imports(name, path, known)
              if layer_of(target) > layer_of(name)]
    assert upward == [], "imports from a lower layer to a higher one: " + "; ".join(f"{a} -> {b}" for a, b in upward)


def test_the_cycle_check_catches_a_hidden_cycle(tmp_path):
    """The check is not vacuous: a function-level import back up the chain is a cycle."""
    known = {"mtl.a": tmp_path / "a.py", "mtl.b": tmp_path / "b.py"}
    (tmp_path / "a.py").write_text("from mtl.b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    from mtl.a import g\n")
    assert imports("mtl.b", known["mtl.b"], known) == {"mtl.a"}
    assert imports("mtl.a", known["mtl.a"], known) == {"mtl.b"}


# --- lineage: dvc.yaml's deps cover the code each stage's command loads -----------------------------------

# The module behind each `mtl <verb>` a stage runs. mtl/cli/, mtl/__init__.py and mtl/offline.py are the
# command line's plumbing (option parsing, the offline environment), the same for every stage: not listed, or
# a help-text edit would rerun the whole pipeline.
COMMANDS = {"ingest": "mtl.ingest", "unify": "mtl.dataset", "train": "mtl.training", "evaluate": "mtl.stages.evaluate",
            "gate": "mtl.stages.gate", "baseline": "mtl.baseline", "transfer": "mtl.transfer",
            "report": "mtl.report"}
PLUMBING = {"mtl/__init__.py", "mtl/offline.py", "mtl/logs.py",
            *(str(path.relative_to(REPO)) for path in (REPO / "mtl/cli").glob("*.py"))}


def loaded_files(module: str) -> set[str]:
    """The mtl/ files importing `module` loads, in a fresh interpreter."""
    script = (f"import json, sys; import {module}; print(json.dumps(sorted(m.__file__ for m in list(sys.modules.values())"
              " if m.__name__.split('.')[0] == 'mtl' and getattr(m, '__file__', None))))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return {str(Path(path).resolve().relative_to(REPO)) for path in json.loads(done.stdout)}


def uncovered(stage: dict, files: set[str]) -> list[str]:
    deps = [dep.rstrip("/") for dep in stage.get("deps", [])]
    return sorted(f for f in files - PLUMBING if not any(f == dep or f.startswith(dep + "/") for dep in deps))


def stages(dvc_yaml: dict) -> dict[str, dict]:
    return {name: stage.get("do", stage) for name, stage in dvc_yaml["stages"].items()}


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    return {verb: loaded_files(module) for verb, module in COMMANDS.items()}


def test_every_stage_lists_the_code_its_command_loads(repo_root, loaded):
    found = {}
    for name, stage in stages(yaml.safe_load((repo_root / "dvc.yaml").read_text())).items():
        verb = stage["cmd"].split()[1]
        assert verb in COMMANDS, f"stage {name} runs `mtl {verb}`: add its module to COMMANDS"
        missing = uncovered(stage, loaded[verb])
        if missing:
            found[name] = missing
    assert found == {}, f"dvc.yaml stages whose deps miss code their command loads: {found}"


def test_the_lineage_check_fails_on_a_stage_missing_its_code(repo_root, loaded):
    """The dvc.yaml before this check (evaluate listed mtl/evaluation.py and mtl/stages.py only): it must fail."""
    old_evaluate = {"cmd": "mtl evaluate", "deps": ["mtl/evaluation.py", "mtl/stages.py"]}
    missing = uncovered(old_evaluate, loaded["evaluate"])
    assert "mtl/tasks/tagging.py" in missing and "mtl/model/model.py" in missing
