"""Fixtures for the registry tests: a tiny real model folder, a registry in tmp_path, and a real
S3-compatible server (moto) on 127.0.0.1 with a fresh bucket per test."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

import boto3
import numpy as np
import pytest
from safetensors.numpy import save_file

from mtl.registry import LocalStore, Registry
from mtl.registry.s3 import S3Store
from tests.registry.s3_server import moto_server, use_fake_aws


def make_model_dir(folder: Path, seed: int = 0) -> Path:
    folder.mkdir(parents=True)
    save_file({"encoder.weight": np.random.default_rng(seed).normal(size=(4, 3)).astype(np.float32)},
              str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"hidden": 3, "seed": seed}))
    (folder / "vocab.json").write_text(json.dumps({"<pad>": 0, "the": 1}))
    (folder / "labels.json").write_text(json.dumps({"sentiment": ["0", "1"]}))
    return folder


def _extras(verdict: str = "pass", value: float = 0.9) -> dict:
    return {
        "metrics": {"overall": {"mean_primary": value},
                    "per_task": {"sentiment": {"metric": "accuracy", "value": value}}},
        "gate": {"verdict": verdict, "rows": []},
        "lineage": {"git_commit": "abc123", "data": {"train": "f00d"}, "params": {"seed": 0}},
    }


@pytest.fixture
def extras():
    """extras(verdict="pass", value=0.9) -> the metrics/gate/lineage records a caller publishes."""
    return _extras


@pytest.fixture
def model_dirs(tmp_path: Path):
    """model_dirs() -> a fresh model folder each call (different weights)."""
    seeds = count()

    def make() -> Path:
        seed = next(seeds)
        return make_model_dir(tmp_path / f"model{seed}", seed)

    return make


def ticking_clock(start: str = "2025-01-01T00:00:00+00:00"):
    """A deterministic clock: every call is one second later than the one before."""
    ticks, origin = count(), datetime.fromisoformat(start)
    return lambda: (origin + timedelta(seconds=next(ticks))).isoformat()


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(LocalStore(tmp_path / "registry"), clock=ticking_clock())


# --- S3 (moto) ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """One moto_server for the session (about a second to start); stopped when the session ends."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Fake credentials and a region for this test only (monkeypatch undoes them); the endpoint URL."""
    use_fake_aws(monkeypatch, tmp_path)
    return moto_endpoint


@pytest.fixture(scope="session")
def aws_session(moto_endpoint: str) -> boto3.session.Session:
    """One boto3 session with the fake keys, shared: each new session costs ~0.1 s (S3's API model).
    Stores built without it go through the standard credential chain (see the credential tests)."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1")


@pytest.fixture
def s3_admin(aws_session: boto3.session.Session, s3_env: str):
    """A plain boto3 client on the server, to arrange and inspect objects behind the store's back."""
    return aws_session.client("s3", endpoint_url=s3_env)


@pytest.fixture
def bucket(s3_admin) -> str:
    """A new, empty bucket: tests never see each other's objects."""
    name = f"mtl-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(bucket: str, s3_env: str, aws_session: boto3.session.Session) -> S3Store:
    return S3Store(bucket, "team/models", endpoint_url=s3_env, region="us-east-1", session=aws_session)


@pytest.fixture
def s3_registry(s3_store: S3Store) -> Registry:
    return Registry(s3_store, clock=ticking_clock(), actor=lambda: "tester@ci")


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path):
    """The store contract runs on both stores."""
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("s3_store")
