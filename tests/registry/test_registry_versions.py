"""Registry versions: publish, list, show, immutability, incomplete versions, fetch with checksums."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from mtl.registry import ChecksumMismatch, IncompleteVersion, Registry, RegistryError, VersionExists


def test_publish_assigns_increasing_ids_and_writes_layout(registry: Registry, model_dirs, extras):
    assert registry.publish(model_dirs(), extras()) == "v0001"
    assert registry.publish(model_dirs(), extras()) == "v0002"
    keys = registry.store.list("versions/v0001/")
    names = {key.split("/", 2)[2] for key in keys}
    assert names == {"version.json", "model.safetensors", "config.json", "vocab.json", "labels.json",
                     "metrics.json", "gate.json", "lineage.json", "manifest.json"}
    manifest = json.loads(registry.store.get("versions/v0001/manifest.json"))
    assert {f["path"] for f in manifest["files"]} == names - {"version.json", "manifest.json"}
    assert {f["role"] for f in manifest["files"] if f["path"].endswith(".safetensors")} == {"model"}


class InterceptingStore:
    """Delegates to a real store; records every put and can die before a chosen key is written."""

    def __init__(self, inner, die_on: str | None = None):
        self.inner, self.die_on, self.written = inner, die_on, []

    def put(self, key, data, *, overwrite=True):
        if self.die_on and key.endswith(self.die_on):
            raise SystemExit("killed")  # the process dies here: nothing more is written
        self.written.append(key)
        self.inner.put(key, data, overwrite=overwrite)

    def __getattr__(self, name):  # get, list, exists, delete
        return getattr(self.inner, name)


def test_manifest_is_written_last(registry: Registry, model_dirs, extras):
    registry.store = spy = InterceptingStore(registry.store)
    registry.publish(model_dirs(), extras())
    assert spy.written[0] == "versions/v0001/version.json"
    assert spy.written[-1] == "versions/v0001/manifest.json"


def test_list_and_show(registry: Registry, model_dirs, extras):
    registry.publish(model_dirs(), extras(value=0.81))
    registry.promote(model_dirs(), extras(value=0.86), reason="better")
    rows = registry.list_versions()
    assert [r["version"] for r in rows] == ["v0001", "v0002"]
    assert rows[1]["aliases"] == ["production"] and rows[0]["aliases"] == []
    assert rows[1]["metrics"] == {"sentiment/accuracy": 0.86} and rows[1]["mean_primary"] == 0.86
    assert rows[1]["gate"] == "pass" and rows[0]["created"] < rows[1]["created"]
    shown = registry.show("production")
    assert shown["version"] == "v0002" and shown["complete"]
    assert shown["lineage"]["git_commit"] == "abc123"
    assert shown["metrics"]["per_task"]["sentiment"]["value"] == 0.86
    assert registry.show("v0001")["aliases"] == []


def test_versions_are_immutable(registry: Registry, model_dirs, extras):
    registry.publish(model_dirs(), extras())
    before = registry.store.get("versions/v0001/model.safetensors")
    with pytest.raises(VersionExists):
        registry.publish(model_dirs(), extras(), version="v0001")
    assert registry.store.get("versions/v0001/model.safetensors") == before
    # An explicit new id is fine, and auto-numbering continues after it.
    assert registry.publish(model_dirs(), extras(), version="v0007") == "v0007"
    assert registry.publish(model_dirs(), extras()) == "v0008"


def test_concurrent_claim_takes_the_next_id(registry: Registry, model_dirs, monkeypatch, extras):
    # Another publisher claims v0002 between our listing and our claim.
    versions = registry.versions
    monkeypatch.setattr(registry, "versions", lambda: [*versions()][:1])
    registry.publish(model_dirs(), extras())
    registry.store.put("versions/v0002/version.json", b"{}", overwrite=False)
    assert registry.publish(model_dirs(), extras()) == "v0003"


def crash_during_publish(registry: Registry, model_dir: Path, extras) -> None:
    real = registry.store
    registry.store = InterceptingStore(real, die_on="manifest.json")
    with pytest.raises(SystemExit):
        registry.publish(model_dir, extras())
    registry.store = real


def test_version_without_manifest_is_incomplete(registry: Registry, model_dirs, extras):
    registry.publish(model_dirs(), extras())
    crash_during_publish(registry, model_dirs(), extras)
    assert [r["version"] for r in registry.list_versions()] == ["v0001"]
    rows = registry.list_versions(include_incomplete=True)
    assert [(r["version"], r["complete"]) for r in rows] == [("v0001", True), ("v0002", False)]
    with pytest.raises(IncompleteVersion):
        registry.set_alias("production", "v0002", reason="try")
    with pytest.raises(IncompleteVersion):
        registry.fetch("v0002", "/nonexistent-never-written")
    assert registry.show("v0002")["complete"] is False
    # The crashed id is burned, never reused.
    assert registry.publish(model_dirs(), extras()) == "v0003"


def test_fetch_round_trips_model_files(registry: Registry, model_dirs, tmp_path: Path, extras):
    source = model_dirs()
    registry.publish(source, extras())
    dest = registry.fetch("v0001", tmp_path / "fetched")
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "labels.json", "model.safetensors",
                                                     "vocab.json"]
    assert (dest / "config.json").read_bytes() == (source / "config.json").read_bytes()
    assert load_file(str(dest / "model.safetensors"))["encoder.weight"].shape == (4, 3)


def test_fetch_detects_corruption(registry: Registry, model_dirs, tmp_path: Path, extras):
    registry.publish(model_dirs(), extras())
    stored = registry.store.root / "versions/v0001/model.safetensors"
    stored.write_bytes(stored.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ChecksumMismatch, match="v0001/model.safetensors: sha256 .* does not match"):
        registry.fetch("v0001", tmp_path / "fetched")
    assert not (tmp_path / "fetched").exists()  # nothing half-written


def test_fetch_detects_missing_file(registry: Registry, model_dirs, tmp_path: Path, extras):
    registry.publish(model_dirs(), extras())
    registry.store.delete("versions/v0001/vocab.json")
    with pytest.raises(ChecksumMismatch, match="missing"):
        registry.fetch("v0001", tmp_path / "fetched")


def test_publish_refuses_bad_model_folders(registry: Registry, model_dirs, extras):
    folder = model_dirs()
    (folder / "optimizer.pt").write_bytes(b"pickle")
    with pytest.raises(RegistryError, match="pickle"):
        registry.publish(folder, extras())
    folder = model_dirs()
    (folder / "config.json").unlink()
    with pytest.raises(RegistryError, match="missing"):
        registry.publish(folder, extras())
    with pytest.raises(RegistryError, match="unknown extras"):
        registry.publish(model_dirs(), {"metrix": {}})
    assert registry.versions() == []  # nothing claimed by a refused publish


def test_resolve_unknown_refs(registry: Registry):
    with pytest.raises(RegistryError, match="no version"):
        registry.resolve("v0042")
    with pytest.raises(RegistryError, match="neither"):
        registry.resolve("staging")
