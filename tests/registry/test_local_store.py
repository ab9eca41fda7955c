"""LocalStore: the folder implementation of the Store protocol (its contract tests are in test_s3_store.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtl.registry import LocalStore, open_store


# The Store contract (put/get/list/exists/delete, create-only, bad keys) runs on this store and on S3
# through the `any_store` fixture in test_s3_store.py; here, only what is particular to a folder.


def test_writes_leave_no_temporary_files_behind(tmp_path: Path):
    store = LocalStore(tmp_path)
    store.put("k.json", b"old")
    store.put("k.json", b"new")
    with pytest.raises(FileExistsError):
        store.put("k.json", b"other", overwrite=False)
    assert store.get("k.json") == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]


def test_open_store(tmp_path: Path):
    assert open_store("models/registry", tmp_path) == LocalStore(tmp_path / "models/registry")
    assert open_store(str(tmp_path / "abs"), Path("/elsewhere")) == LocalStore(tmp_path / "abs")
    with pytest.raises(ValueError, match="expected a folder or s3://"):
        open_store("gs://bucket/models", tmp_path)  # s3:// is covered in test_s3_store.py
