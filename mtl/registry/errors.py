"""The registry's errors, at the bottom of the package so that every store and the registry share them."""

from __future__ import annotations

from mtl.errors import MtlError


class RegistryError(MtlError):
    """A registry operation was refused; the message says why and what to do."""


class VersionExists(RegistryError):
    pass


class IncompleteVersion(RegistryError):
    pass


class ChecksumMismatch(RegistryError):
    pass


class MoveConflict(RegistryError):
    """Two alias moves committed under the same move number (a store whose conditional writes are not
    atomic): the history entry, created once, says which move stands; the other one fails with this."""


class Conflict(Exception):
    """Store.put_if lost a race: the key no longer holds what the caller read (or exists when it expected
    none). The registry retries on it; it never reaches a user."""
