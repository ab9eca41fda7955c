"""Stores: where the registry keeps bytes. A store is a flat key space ("versions/v0001/config.json").

The registry speaks only this protocol, so an S3 store (boto3) is one more class with these five
methods; nothing in the registry knows about folders.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_TEMP_PREFIX = ".tmp-"  # half-written files; never listed, never a valid key


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

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") or part.startswith(_TEMP_PREFIX) for part in parts) or "\\" in key:
            raise ValueError(f"invalid store key {key!r}")
        return self.root.joinpath(*parts)


def open_store(uri: str, root: Path) -> Store:
    """The store for params.yaml's registry.uri; a relative folder is relative to `root` (params.yaml's folder)."""
    if uri.startswith("s3://"):
        raise NotImplementedError(f"{uri}: the S3 registry store is not implemented yet; use a folder")
    if "://" in uri:
        raise ValueError(f"registry uri {uri!r}: expected a folder or s3://bucket/prefix")
    return LocalStore(root / uri)
