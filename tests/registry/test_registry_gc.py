"""Garbage collection: what killed promotions leave (incomplete versions, temporary files) goes once older
than the grace period, by `mtl registry gc` and by the next promotion; nothing an alias or the history
names, and nothing younger, is ever removed."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mtl.cli import app
from mtl.registry import LocalStore, Registry
from tests.registry.conftest import ticking_clock
from tests.registry.test_registry_versions import crash_during_publish

REPO = Path(__file__).resolve().parents[2]
START = datetime.fromisoformat("2025-01-01T00:00:00+00:00")
DAY_LATER = (START + timedelta(hours=25)).isoformat()  # past the default 24-hour grace period


def leave_a_temporary_file(store: LocalStore, age: timedelta) -> Path:
    """What a LocalStore put killed mid-write leaves: a .tmp- file beside its target, `age` old."""
    path = store.root / "versions" / "v0002" / ".tmp-k1ll3d00"
    path.write_bytes(b"\0" * 8192)
    moment = (START + age).timestamp()
    os.utime(path, (moment, moment))
    return path


def killed_promotion(registry: Registry, model_dirs, extras) -> None:
    """v0001 promoted; then a promotion killed before v0002's manifest (its files stay, incomplete)."""
    registry.promote(model_dirs(), extras(), reason="first")
    crash_during_publish(registry, model_dirs(), extras)
    assert [(r["version"], r["complete"]) for r in registry.list_versions(include_incomplete=True)] == [
        ("v0001", True), ("v0002", False)]


def test_gc_removes_incomplete_versions_and_temporary_files_older_than_the_grace_period(registry: Registry,
                                                                                      model_dirs, extras):
    killed_promotion(registry, model_dirs, extras)
    temporary = leave_a_temporary_file(registry.store, age=timedelta(0))
    young = registry.collect_garbage()
    assert (young.versions, young.files) == ([], []) and young.kept[0].startswith("v0002: claimed")
    assert temporary.exists()

    registry.clock = ticking_clock(DAY_LATER)
    assert registry.collect_garbage(dry_run=True).versions == ["v0002"]
    assert registry.store.list("versions/v0002/") != ["versions/v0002/version.json"]  # a dry run removes nothing
    collected = registry.collect_garbage()
    assert collected.versions == ["v0002"] and "versions/v0002/.tmp-k1ll3d00" in collected.files
    assert registry.store.list("versions/v0002/") == ["versions/v0002/version.json"]  # the claim stays
    assert not temporary.exists() and not any((registry.store.root / "versions" / "v0002").glob(".tmp-*"))
    assert len(registry.store.list("versions/v0001/")) == 9
    registry.fetch("production", registry.store.root.parent / "fetched")  # whole: every sha256 checks out
    assert registry.publish(model_dirs(), extras()) == "v0003"  # the collected id is never reused
    assert registry.collect_garbage().versions == []  # nothing left to collect


def test_gc_never_removes_a_version_an_alias_or_the_history_names(registry: Registry, model_dirs, extras):
    killed_promotion(registry, model_dirs, extras)
    registry.store.delete("versions/v0001/manifest.json")  # v0001 is incomplete now, but production names it
    registry.clock = ticking_clock(DAY_LATER)
    collected = registry.collect_garbage()
    assert collected.versions == ["v0002"]
    assert collected.kept == ["v0001: an alias or the history names it"]
    assert len(registry.store.list("versions/v0001/")) == 8


def test_the_next_promotion_collects_first(any_registry_kind: Registry, model_dirs, extras):
    registry = any_registry_kind
    killed_promotion(registry, model_dirs, extras)
    registry.clock = ticking_clock(DAY_LATER)
    assert registry.promote(model_dirs(), extras(), reason="next") == "v0003"
    assert registry.store.list("versions/v0002/") == ["versions/v0002/version.json"]
    assert [m["version"] for m in registry.history("production")] == ["v0001", "v0003"]


@pytest.fixture(params=["local", "s3"])
def any_registry_kind(request) -> Registry:
    return request.getfixturevalue("registry" if request.param == "local" else "s3_registry")


def test_mtl_registry_gc(tmp_path: Path, model_dirs, extras):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["registry"] = {"uri": "models/registry", "gc_grace_hours": 24}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # Published a day and more ago (the CLI's clock is the real one).
    registry = Registry(LocalStore(tmp_path / "models/registry"), clock=ticking_clock("2020-01-01T00:00:00+00:00"))
    killed_promotion(registry, model_dirs, extras)
    runner = CliRunner()
    dry = runner.invoke(app, ["registry", "gc", "--dry-run", "--params", str(tmp_path / "params.yaml")])
    assert dry.exit_code == 0 and "would remove incomplete version v0002" in dry.output
    done = runner.invoke(app, ["registry", "gc", "--params", str(tmp_path / "params.yaml")])
    assert done.exit_code == 0 and "removed incomplete version v0002" in done.output, done.output
    assert "versions/v0002/model.safetensors" in done.output
    assert registry.store.list("versions/v0002/") == ["versions/v0002/version.json"]
    assert "Example: mtl registry gc --dry-run" in runner.invoke(app, ["registry", "gc", "--help"]).output
