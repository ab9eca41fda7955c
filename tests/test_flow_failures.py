"""A failed retrain run changes nothing that matters: the production alias stays where it was, the
workspace can run again (no lock left behind, DVC works), and the failure is announced (event, artifact,
webhook). One run per workspace at a time: a second one fails at once. Stages never retry; pushes do."""

from __future__ import annotations

import pytest
from prefect.artifacts import Artifact

from flows.retrain import promote, push_data, retrain, run_stage
from mtl.config import load_params
from mtl.corpora.fetch import pull_corpora
from mtl.pipeline import StageFailed, WorkspaceBusy, repro, workspace_lock
from mtl.registry import Registry, open_store
from tests.scheduling import WebhookReceiver
from tests.workspace import make_workspace


@pytest.fixture
def workspace_with_production(tmp_path, shared_corpora, monkeypatch):
    """A workspace whose registry already has a production model (a stand-in: no test here reaches the
    gate), with its corpora pulled and a webhook receiver listening for failures."""
    with WebhookReceiver() as hook:
        notify = {"webhook": hook.url, "events": ["mtl.retrain.failed"]}
        ws = make_workspace(tmp_path, shared_corpora, n=40, notify=notify)
        monkeypatch.setenv("MTL_CORPORA_MIRROR", str(ws.mirror))
        params = load_params(ws.params_file)
        pull_corpora(params)
        model = tmp_path / "production-model"
        model.mkdir()
        (model / "model.safetensors").write_bytes(b"stand-in weights")
        (model / "config.json").write_text("{}")
        registry = Registry(open_store(params.registry.uri, params.root))
        assert registry.promote(model, {"gate": {"verdict": "pass"}}, "test fixture") == "v0001"
        yield ws, registry, hook


def test_a_failing_stage_leaves_production_untouched_and_the_workspace_runnable(
    workspace_with_production, prefect_harness
):
    ws, registry, hook = workspace_with_production
    train_file = ws.root / "data/raw/trec/train_5500.label"
    good = train_file.read_bytes()
    train_file.write_bytes(good + b"this line has no label\n" * 5)  # 5 of 45 quarantined: far past the 1% limit

    with pytest.raises(StageFailed, match="ingest@trec"):
        retrain(ws.params_file, skip_unchanged=True)

    assert registry.resolve("production") == "v0001" and len(registry.history("production")) == 1
    [failure] = hook.received
    assert failure["event"] == "mtl.retrain.failed" and failure["production"] == "v0001"
    assert failure["summary"].startswith("retrain failed (production: v0001): ")
    assert "StageFailed" in failure["summary"]
    assert "ingest@trec" in failure["error"] and "quarantine" in failure["error"].lower()
    assert Artifact.get("retrain-outcome").data.startswith("# Retrain: failed")

    # Runnable again: the lock was released, and DVC (its own lock included) runs the repaired stage.
    with workspace_lock(ws.root):
        pass
    train_file.write_bytes(good)
    assert repro(ws.root, "ingest@trec").ran == ["ingest@trec"]


def test_a_second_run_in_the_same_workspace_fails_at_once(workspace_with_production, prefect_harness):
    ws, registry, hook = workspace_with_production
    with workspace_lock(ws.root):  # a run in progress
        with pytest.raises(WorkspaceBusy, match=r"another pipeline run holds the workspace .*pid \d+"):
            retrain(ws.params_file, skip_unchanged=True)
    assert registry.resolve("production") == "v0001"
    assert hook.events() == ["mtl.retrain.failed"]
    assert "another pipeline run holds the workspace" in hook.received[0]["summary"]


def test_transient_steps_retry_with_backoff_and_deterministic_ones_do_not():
    assert push_data.retries == 3
    delays = push_data.retry_delay_seconds
    assert delays == sorted(delays) and delays[0] < delays[-1], "backoff: each wait longer than the last"
    assert run_stage.retries == 0 and promote.retries == 0  # validation, training, the gate, the alias move
