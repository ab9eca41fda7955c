"""The service follows the registry: an alias move swaps the model with no failed request; a version that
cannot be loaded (bad weights, a file that fails its sha256) leaves the old one serving and is reported.
Local registry and S3 (moto on 127.0.0.1) alike."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

import mtl
from mtl.registry import ChecksumMismatch, Registry, open_registry
from mtl.registry.s3 import S3Store
from mtl.serve.follower import ModelFollower
from mtl.serve.metrics import ServiceMetrics
from tests.registry.s3_server import moto_server, use_fake_aws
from tests.serve.conftest import Trained, running, serve_params

POLL = {"poll_seconds": 0.05}
EXTRAS = {"gate": {"verdict": "pass", "rows": []},
          "metrics": {"test": {"per_task": {"pos": {"metric": "accuracy", "value": 0.5, "ci": [0.4, 0.6], "n": 16}}}},
          "lineage": {"git_commit": "abc123", "git_dirty": False, "dvc_lock": {}}}


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def broken_copy(model: Path, folder: Path) -> Path:
    """The model folder with weights that are not a safetensors file: it publishes, but cannot load."""
    shutil.copytree(model, folder)
    (folder / "model.safetensors").write_bytes(b"these are not weights")
    return folder


class ClientLoop:
    """Requests back to back in a thread, recording every answer's status and model version."""

    def __init__(self, client: httpx.Client) -> None:
        self.client, self.answers, self.stop = client, [], threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stop.is_set():
            answer = self.client.post("/v1/predict", json={"sentences": ["the cat sees a dog ."]})
            self.answers.append((answer.status_code, answer.json().get("model", {}).get("version")))

    def __enter__(self) -> ClientLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def follow_a_promotion(registry: Registry, client: httpx.Client, model: Path) -> None:
    with ClientLoop(client) as loop:
        wait_for(lambda: len(loop.answers) >= 3)
        second = registry.promote(model, EXTRAS, "a better model")
        wait_for(lambda: loop.answers[-1][1] == second and len(loop.answers) >= 10)
    statuses = {status for status, _ in loop.answers}
    versions = [version for _, version in loop.answers]
    assert statuses == {200}  # zero failed requests across the swap
    first_new = versions.index(second)
    assert set(versions[:first_new]) == {"v0001"} and set(versions[first_new:]) == {second}


def test_a_promotion_during_a_client_loop_swaps_with_zero_failed_requests(trained: Trained, tmp_path: Path) -> None:
    params = serve_params(trained, tmp_path, **POLL)
    registry = open_registry(params)
    registry.promote(trained.model, EXTRAS, "first")
    with running(params, "production") as client:
        info = client.get("/v1/model").json()
        assert info["version"] == "v0001" and info["source"] == "registry:production"
        assert info["metrics"]["pos"]["value"] == 0.5 and info["lineage"]["git_commit"] == "abc123"
        follow_a_promotion(registry, client, trained.model)
        metrics = client.get("/metrics").text
    assert 'mtl_model_info{precision="fp32",version="v0002"} 1.0' in metrics
    assert "mtl_model_swaps_total 2.0" in metrics


def test_a_broken_new_version_keeps_the_old_one_serving(trained: Trained, tmp_path: Path) -> None:
    params = serve_params(trained, tmp_path, **POLL)
    registry = open_registry(params)
    registry.promote(trained.model, EXTRAS, "first")
    with running(params, "production") as client:
        broken = registry.promote(broken_copy(trained.model, tmp_path / "broken"), EXTRAS, "broken weights")
        wait_for(lambda: (client.get("/v1/model").json()["last_failure"] or {}).get("version") == broken)
        info = client.get("/v1/model").json()
        answer = client.post("/v1/predict", json={"sentences": ["a cat"]})
        registry.rollback(reason="back to v0001")  # the alias leaves the broken version: nothing to load
        time.sleep(0.2)
        assert client.get("/v1/model").json()["version"] == "v0001"
    assert info["version"] == "v0001" and broken in info["last_failure"]["version"]
    assert "safetensor" in info["last_failure"]["error"].lower()  # what could not be read
    assert answer.status_code == 200 and answer.json()["model"]["version"] == "v0001"


def test_a_version_whose_files_fail_their_sha256_is_not_loaded(trained: Trained, registry: Registry,
                                                                tmp_path: Path) -> None:
    registry.promote(trained.model, EXTRAS, "first")
    follower = ModelFollower(metrics=ServiceMetrics(), registry=registry, ref="production")
    follower.check()  # what the follower's thread does every poll
    tampered = registry.promote(trained.model, EXTRAS, "second")
    stored = tmp_path / "registry" / "versions" / tampered / "vocab.json"
    stored.write_text(stored.read_text(encoding="utf-8") + " ", encoding="utf-8")  # after the alias moved
    follower.check()
    assert follower.current.version == "v0001"
    assert follower.last_failure["version"] == tampered
    assert follower.last_failure["error"].startswith(ChecksumMismatch.__name__)
    follower.check()  # not retried while the alias still names it
    assert follower.metrics.registry.get_sample_value("mtl_model_load_failures_total") == 1


def test_an_s3_registry_is_followed_too(trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch, tmp_path)
    with moto_server(tmp_path / "moto.log") as endpoint:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="models")
        params = serve_params(trained, tmp_path, **POLL)
        params = params.model_copy(update={"registry": params.registry.model_copy(
            update={"uri": "s3://models/mtl", "endpoint_url": endpoint, "region": "us-east-1"})})
        registry = open_registry(params)
        assert isinstance(registry.store, S3Store)
        registry.promote(trained.model, EXTRAS, "first")
        with running(params, "production") as client:
            assert client.get("/readyz").json()["version"] == "v0001"
            follow_a_promotion(registry, client, trained.model)


def test_mtl_load_resolves_aliases_and_versions_through_the_registry(trained: Trained, tmp_path: Path) -> None:
    params = serve_params(trained, tmp_path)
    registry = open_registry(params)
    registry.promote(trained.model, EXTRAS, "first")
    registry.promote(broken_copy(trained.model, tmp_path / "broken"), EXTRAS, "second")
    registry.rollback(reason="the second is broken")
    expected = mtl.load(trained.model).predict(["the cat sees a dog ."])
    assert mtl.load("production", params=params.root / "params.yaml").predict(["the cat sees a dog ."]) == expected
    assert mtl.load("v0001", params=params.root / "params.yaml").predict(["the cat sees a dog ."]) == expected
    with pytest.raises(ValueError, match="safetensor"):
        mtl.load("v0002", params=params.root / "params.yaml")
