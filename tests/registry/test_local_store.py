"""LocalStore: the folder implementation of the Store protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtl.registry import LocalStore, open_store


def test_put_get_list_exists_delete(tmp_path: Path):
    store = LocalStore(tmp_path)
    store.put("a/b/one.json", b"1")
    store.put("a/two.json", b"2")
    store.put("ab.json", b"3")
    assert store.get("a/b/one.json") == b"1"
    assert store.list("a/") == ["a/b/one.json", "a/two.json"]
    assert store.list("a") == ["a/b/one.json", "a/two.json", "ab.json"]
    assert store.list("missing/") == []
    assert store.exists("a/two.json") and not store.exists("a/b")
    store.delete("a/two.json")
    store.delete("a/two.json")  # idempotent, like S3
    assert not store.exists("a/two.json")
    with pytest.raises(KeyError):
        store.get("a/two.json")


def test_overwrite_replaces_and_create_only_refuses(tmp_path: Path):
    store = LocalStore(tmp_path)
    store.put("k.json", b"old")
    store.put("k.json", b"new")
    assert store.get("k.json") == b"new"
    with pytest.raises(FileExistsError):
        store.put("k.json", b"other", overwrite=False)
    assert store.get("k.json") == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temp files left behind


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ".tmp-x", "a\\b", ""])
def test_bad_keys_are_refused(tmp_path: Path, key: str):
    with pytest.raises(ValueError):
        LocalStore(tmp_path).put(key, b"x")


def test_open_store(tmp_path: Path):
    assert open_store("models/registry", tmp_path) == LocalStore(tmp_path / "models/registry")
    assert open_store(str(tmp_path / "abs"), Path("/elsewhere")) == LocalStore(tmp_path / "abs")
    with pytest.raises(ValueError, match="expected a folder or s3://"):
        open_store("gs://bucket/models", tmp_path)  # s3:// is covered in test_s3_store.py
