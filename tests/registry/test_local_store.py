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


@pytest.mark.parametrize("vanish_at", [1, 2])
def test_sweep_passes_over_a_temp_file_its_put_published_meanwhile(tmp_path, monkeypatch, vanish_at):
    """A promotion's gc sweeps while other promotions write: a temp file listed by the walk may be published
    (renamed) before its age is read, at whichever look. It is not garbage, and the sweep must not fail on it (a
    concurrent promotion once failed here with FileNotFoundError)."""
    import os
    from datetime import datetime, timedelta, timezone
    from pathlib import Path

    from mtl.registry.store import LocalStore

    store = LocalStore(tmp_path)
    store.put("versions/v0001/a.json", b"{}")
    racing = tmp_path / "versions" / "v0001" / ".tmp-racing"
    racing.write_bytes(b"half")
    old = tmp_path / "versions" / "v0001" / ".tmp-old"
    old.write_bytes(b"left by a killed put")
    os.utime(old, (0, 0))
    real_stat, seen = Path.stat, []

    def published_meanwhile(path, *args, **kwargs):
        if path.name == ".tmp-racing":
            seen.append(path)
            if len(seen) == vanish_at:  # by this look at it, its put has renamed it into place
                path.unlink(missing_ok=True)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", published_meanwhile)
    swept = store.sweep(datetime.now(timezone.utc) - timedelta(hours=1))
    assert swept == ["versions/v0001/.tmp-old"] and not old.exists()
