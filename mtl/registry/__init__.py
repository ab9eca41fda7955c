"""Model registry: immutable versions and movable aliases (production, ...) over a store."""

from mtl.registry.registry import (
    ChecksumMismatch,
    IncompleteVersion,
    Registry,
    RegistryError,
    VersionExists,
)
from mtl.registry.store import LocalStore, Store, open_store

__all__ = [
    "ChecksumMismatch",
    "IncompleteVersion",
    "LocalStore",
    "Registry",
    "RegistryError",
    "Store",
    "VersionExists",
    "open_store",
]
