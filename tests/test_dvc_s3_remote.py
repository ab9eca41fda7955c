"""Real DVC with an S3 remote (dvc-s3) on a real moto server on 127.0.0.1, in a temporary git repo:
push, lose the cache and the workspace copy, pull, and get the same bytes back."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
import yaml

from mtl.config import load_params
from mtl.pipeline import add_remote, dvc, pull_data, push_promoted, track
from tests.registry.s3_server import moto_server, use_fake_aws

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory):
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _workspace(root: Path, dvc_remote: str | None) -> Path:
    """A git + DVC repository with the project's params.yaml (registry.dvc_remote set as given)."""
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    dvc(root, "config", "core.check_update", "false")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["registry"] = {"uri": "models/registry", "dvc_remote": dvc_remote}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root / "params.yaml"


def test_push_after_promotion_then_pull_from_s3(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Credentials only in the environment (which DVC inherits), never in .dvc/config or config.local.
    use_fake_aws(monkeypatch, tmp_path)
    bucket = f"dvc-{uuid.uuid4().hex[:12]}"
    s3 = boto3.session.Session().client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket=bucket)
    params_file = _workspace(tmp_path / "repo", dvc_remote="storage")
    root = params_file.parent
    add_remote(root, "storage", f"s3://{bucket}/dvcstore", endpoint_url=moto_url)
    config = (root / ".dvc" / "config").read_text()
    assert f"url = s3://{bucket}/dvcstore" in config and f"endpointurl = {moto_url}" in config
    assert "testing" not in config and not (root / ".dvc" / "config.local").exists()

    data = root / "data" / "small"
    (data / "nested").mkdir(parents=True)
    (data / "a.txt").write_text("the unified dataset, in miniature\n")
    (data / "nested" / "weights.bin").write_bytes(uuid.uuid4().bytes * 64)
    track(root, data)
    before = _snapshot(data)

    assert push_promoted(load_params(params_file)) == "storage"
    stored = s3.list_objects_v2(Bucket=bucket, Prefix="dvcstore/").get("Contents", [])
    assert len(stored) == 3  # two files and the directory listing

    shutil.rmtree(root / ".dvc" / "cache")
    shutil.rmtree(data)
    pull_data(root, "storage")
    assert _snapshot(data) == before


def test_no_remote_configured_pushes_nothing(tmp_path: Path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert push_promoted(load_params(tmp_path / "params.yaml")) is None  # not a DVC repo: nothing ran
