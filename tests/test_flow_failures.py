"""A failed retrain run changes nothing that matters: the production alias stays where it was, the
workspace can run again (no lock left behind, DVC works), and the failure is announced (event, artifact,
webhook), with any URL in it redacted. One run per workspace at a time: a second one fails at once.
Stages never retry; pushes do. A params file other than the workspace's params.yaml is refused."""

from __future__ import annotations

import shutil

import pytest
from prefect.artifacts import Artifact

from flows.retrain import promote, push_data, retrain, run_stage
from harness.webhook import WebhookReceiver
from harness.workspace import copy_workspace
from mtl.config import ConfigError, load_params
from mtl.notify import report_failure
from mtl.pipeline import StageFailed, WorkspaceBusy, repro, workspace_lock
from mtl.registry import open_registry


@pytest.fixture
def workspace_with_production(trained_workspace, tmp_path, monkeypatch):
    """A copy of the session's trained workspace (production is v0001), with a webhook receiver listening
    for failures."""
    with WebhookReceiver(path="/hooks/T0KEN?key=S3CRET") as hook:
        workspace = copy_workspace(trained_workspace.workspace, tmp_path)
        workspace.set_params(notify={"webhook": hook.url, "events": ["mtl.retrain.failed"]})
        monkeypatch.setenv("MTL_CORPORA_MIRROR", str(workspace.mirror))
        yield workspace, open_registry(load_params(workspace.params_file)), hook


def test_a_failing_stage_leaves_production_untouched_and_the_workspace_runnable(
    workspace_with_production, prefect_api
):
    workspace, registry, hook = workspace_with_production
    train_file = workspace.root / "data/raw/trec/train_5500.label"
    good = train_file.read_bytes()
    train_file.write_bytes(good + b"this line has no label\n" * 5)  # 5 of 105 quarantined: past the 1% limit

    with pytest.raises(StageFailed, match="ingest@trec"):
        retrain(workspace.params_file, skip_unchanged=True)

    assert registry.resolve("production") == "v0001" and len(registry.history("production")) == 1
    [failure] = hook.received
    assert failure["event"] == "mtl.retrain.failed" and failure["production"] == "v0001"
    assert failure["summary"].startswith("retrain failed (production: v0001): StageFailed: ")
    assert "ingest@trec" in failure["error"] and "quarantine" in failure["error"].lower()
    assert Artifact.get("retrain-outcome").data.startswith("# Retrain: failed")

    # Runnable again: the lock was released, and DVC (its own lock included) brings the repaired stage back
    # (DVC removed its outputs before running the failed command: it runs it, or restores them from its run
    # cache where dvc.yaml lets it keep one).
    with workspace_lock(workspace.root):
        pass
    train_file.write_bytes(good)
    repaired = repro(workspace.root, "ingest@trec")
    assert repaired.ran + repaired.restored == ["ingest@trec"]


def test_a_second_run_in_the_same_workspace_fails_at_once(workspace_with_production, prefect_api):
    workspace, registry, hook = workspace_with_production
    with workspace_lock(workspace.root):  # a run in progress
        with pytest.raises(WorkspaceBusy, match=r"another pipeline run holds the workspace .*pid \d+"):
            retrain(workspace.params_file, skip_unchanged=True)
    assert registry.resolve("production") == "v0001"
    assert hook.events() == ["mtl.retrain.failed"]
    assert "another pipeline run holds the workspace" in hook.received[0]["summary"]


def test_a_failure_report_shows_urls_without_their_path_or_query(workspace_with_production, prefect_api):
    """The failure of a run whose error names the webhook (its token in the path, a key in the query):
    neither reaches the webhook, the event or the artifact."""
    workspace, registry, hook = workspace_with_production
    error = f"could not reach {hook.url} (and http://user:pa55@10.1.2.3:8080/x?token=abc)"
    assert report_failure(load_params(workspace.params_file), error) is True
    [failure] = hook.received
    published = f"{failure}\n{Artifact.get('retrain-outcome').data}"
    for secret in ("T0KEN", "S3CRET", "pa55", "token=abc", "user:"):
        assert secret not in published, published
    host = hook.url.split("/hooks")[0]
    # each URL cut to scheme://host:port/… (up to the next space: a path may hold any other character)
    assert f"could not reach {host}/… (and http://10.1.2.3:8080/…" in failure["summary"]


def test_a_params_file_other_than_the_workspace_params_yaml_is_refused(workspace_with_production, prefect_api):
    workspace, registry, hook = workspace_with_production
    other = workspace.root / "fast.yaml"
    shutil.copy(workspace.params_file, other)
    with pytest.raises(ConfigError, match=r"fast.yaml: the pipeline runs through DVC, which reads params.yaml"):
        retrain(other)
    assert registry.resolve("production") == "v0001" and hook.received == []


def test_transient_steps_retry_with_backoff_and_deterministic_ones_do_not():
    assert push_data.retries == 3
    delays = push_data.retry_delay_seconds
    assert delays == sorted(delays) and delays[0] < delays[-1], "backoff: each wait longer than the last"
    assert run_stage.retries == 0 and promote.retries == 0  # validation, training, the gate, the alias move
