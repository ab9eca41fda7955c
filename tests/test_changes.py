"""What a scheduled run asks before it trains, on a real DVC repository with a two-stage pipeline shaped
like ours (evaluate, then an always_changed gate): only real changes count, and a candidate is skipped only
once it has a decision against the production version that is current."""

from __future__ import annotations

import textwrap

from harness.workspace import run
from mtl.changes import record_decision, what_changed
from mtl.config import Params
from mtl.pipeline import dvc, repro, track
from mtl.registry import Registry, open_store

PIPELINE = """
stages:
  evaluate:
    cmd: python -c "open('metrics.json', 'w').write(open('data.txt').read())"
    deps: [data.txt]
    outs: [{metrics.json: {cache: false}}]
  gate:
    cmd: python -c "open('gate.json', 'w').write('{}')"
    always_changed: true
    deps: [metrics.json]
    outs: [{gate.json: {cache: false}}]
"""


def test_only_real_changes_and_undecided_candidates_count(tmp_path):
    root = tmp_path / "repo"
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "corpus.txt").write_text("one\n")
    (root / "data.txt").write_text("a\n")
    (root / "dvc.yaml").write_text(textwrap.dedent(PIPELINE))
    run(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    track(root, root / "raw")
    params = Params.model_validate({"corpora": {}, "tasks": {}, "gate": {"tasks": {}}, "root": root})
    assert repro(root, "gate").ran == ["evaluate", "gate"]

    changes = what_changed(params)
    assert changes.stages == {}, "the gate's `always changed` is not a change"
    assert changes.undecided == "the evaluated candidate has no gate decision yet" and not changes.nothing

    record_decision(params, "refused")
    assert what_changed(params).nothing

    # Production moved (a promotion elsewhere, a rollback): only the gate has to look again.
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}")
    Registry(open_store(params.registry.uri, root)).promote(model, {"gate": {"verdict": "pass"}}, "test")
    moved = what_changed(params)
    assert moved.undecided == "production moved from None to v0001 since the last decision"
    assert moved.production == "v0001"
    record_decision(params, "promoted")
    assert what_changed(params).nothing

    # A .dvc-tracked folder that changed is not a stage; a stage's changed dependency is.
    (root / "raw" / "corpus.txt").write_text("one\ntwo\n")
    (root / "data.txt").write_text("a\nb\n")
    changed = what_changed(params)
    assert list(changed.stages) == ["evaluate"]
    assert changed.describe() == "evaluate: data.txt modified"
