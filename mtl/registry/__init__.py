"""Model registry: immutable versions and movable aliases (production, ...) over a store.

open_registry(params) is the one way to reach the configured registry; open_store picks the store
for a URI (a folder, or s3://bucket/prefix).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mtl.config import Params
from mtl.registry.errors import ChecksumMismatch, IncompleteVersion, MoveConflict, RegistryError, VersionExists
from mtl.registry.gc import Collected
from mtl.registry.layout import PRODUCTION
from mtl.registry.registry import Registry
from mtl.registry.store import LocalStore, Store

__all__ = [
    "PRODUCTION",
    "ChecksumMismatch",
    "Collected",
    "IncompleteVersion",
    "LocalStore",
    "MoveConflict",
    "Registry",
    "RegistryError",
    "Store",
    "VersionExists",
    "open_registry",
    "open_store",
]


def open_store(uri: str, root: Path, *, endpoint_url: str | None = None, region: str | None = None) -> Store:
    """The store for params.yaml's registry.uri; a relative folder is relative to `root` (params.yaml's folder).
    endpoint_url and region matter to s3:// only (see S3Store for what the environment adds)."""
    if uri.startswith("s3://"):
        from mtl.registry.s3 import S3Store  # boto3 is imported only by those who use S3

        return S3Store.from_uri(uri, endpoint_url=endpoint_url, region=region)
    if "://" in uri:
        raise ValueError(f"registry uri {uri!r}: expected a folder or s3://bucket/prefix")
    return LocalStore(root / uri)


def open_registry(params: Params) -> Registry:
    """The registry params.yaml's `registry:` section configures."""
    config = params.registry
    store = open_store(config.uri, params.root, endpoint_url=config.endpoint_url, region=config.region)
    return Registry(store, gc_grace=timedelta(hours=config.gc_grace_hours))
