"""Stores: where the registry keeps bytes. A store is a flat key space ("versions/v0001/config.json").

The registry speaks only this protocol, so the S3 store (mtl/registry/s3.py, boto3) is one more class
with these methods; nothing in the registry knows about folders or buckets. mtl.registry.open_store
picks the store for a URI.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from mtl.registry.errors import Conflict

_TEMP_PREFIX = ".tmp-"  # half-written files and lock files; never listed, never a valid key
_LOCK_PREFIX = f"{_TEMP_PREFIX}lock-"  # mkstemp's random part has no "-", so no temp file starts so


def check_key(key: str) -> list[str]:
    """The key's parts; every store refuses the same keys, so a key valid on disk is valid on S3."""
    parts = key.split("/")
    if any(part in ("", ".", "..") or part.startswith(_TEMP_PREFIX) for part in parts) or "\\" in key:
        raise ValueError(f"invalid store key {key!r}")
    return parts


class Store(Protocol):
    """Keys are "/"-separated relative paths. Errors every store raises the same way:
    get of a missing key -> KeyError; put(overwrite=False) of an existing key -> FileExistsError.
    """

    def put(self, key: str, data: bytes, *, overwrite: bool = True) -> None:
        """Write atomically: readers see the old bytes or the new, never a part. overwrite=False
        creates the key only if absent, atomically (S3: a conditional put with If-None-Match: *)."""
        ...

    def get(self, key: str) -> bytes: ...

    def list(self, prefix: str) -> list[str]:
        """Every key starting with `prefix`, at any depth, sorted."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the key; deleting a missing key is not an error."""
        ...

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The bytes and an opaque token naming exactly this content (S3: the ETag), read together."""
        ...

    def put_if(self, key: str, data: bytes, token: str | None) -> None:
        """Compare-and-swap: replace the key only if it still holds the content `token` names
        (None: only if the key is absent); otherwise raise Conflict. Atomic against other put_if calls."""
        ...

    def sha256(self, key: str) -> str:
        """The stored bytes' sha256 (hex), as the store can prove it (S3: the checksum kept at upload)."""
        ...

    def sweep(self, older_than: datetime, *, dry_run: bool = False) -> list[str]:
        """Remove what killed writers of this store left behind (never a key), last modified before
        `older_than`; the names removed (with dry_run: that would be)."""
        ...


@dataclass(frozen=True)
class LocalStore:
    """A folder on the local disk; a key is a file path under `root`."""

    root: Path

    def put(self, key: str, data: bytes, *, overwrite: bool = True) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temp file beside the target and flush it to disk, then publish it in one step:
        # os.replace (atomic overwrite) or os.link (atomic create, fails if the target exists).
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                os.replace(temp, path)
            else:
                os.link(temp, path)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def list(self, prefix: str) -> list[str]:
        # Walk only the folder the prefix names (its part before the last "/"), not the whole store.
        folder = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return []
        keys = (
            path.relative_to(self.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(_TEMP_PREFIX)
        )
        return sorted(key for key in keys if key.startswith(prefix))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.get(key)
        return data, hashlib.sha256(data).hexdigest()  # content-addressed, like an S3 ETag

    def put_if(self, key: str, data: bytes, token: str | None) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # An flock on a lock file beside the key serialises put_if callers across threads and processes
        # (each open() is its own lock holder) and is released by the kernel if the holder dies: no
        # stale locks. The lock file is never deleted: unlinking it would let two holders coexist.
        with open(path.parent / f"{_LOCK_PREFIX}{path.name}", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = hashlib.sha256(path.read_bytes()).hexdigest()
            except FileNotFoundError:
                current = None
            if current != token:
                raise Conflict(f"{key}: changed since it was read")
            self.put(key, data)

    def sha256(self, key: str) -> str:
        return hashlib.sha256(self.get(key)).hexdigest()

    def sweep(self, older_than: datetime, *, dry_run: bool = False) -> list[str]:
        """Temporary files of puts killed before they published (as big as the file they were writing).
        Lock files stay: removing one while it is held would let a second holder in."""
        if not self.root.is_dir():
            return []
        swept = []
        for path in sorted(self.root.rglob(f"{_TEMP_PREFIX}*")):
            if path.name.startswith(_LOCK_PREFIX):
                continue
            try:
                status = path.stat()
            except FileNotFoundError:  # its put published or removed it since the walk listed it: not garbage
                continue
            if stat.S_ISREG(status.st_mode) and status.st_mtime < older_than.timestamp():
                if not dry_run:
                    path.unlink(missing_ok=True)
                swept.append(path.relative_to(self.root).as_posix())
        return swept

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key))

