"""The model registry: immutable versions and movable aliases over a Store (key layout: layout.py).

A version is published file by file under a claimed id, its manifest of sha256s written last; an alias
moves (aliases.py) only to a version whose every file the store still holds with the manifest's sha256,
so a crash mid-publish never leaves an alias on a partial version, and concurrent promotions never lose
a move. What killed publishes leave behind is collected (gc.py) before each promotion and by
`mtl registry gc`.

Models are data: the registry stores and verifies bytes, and reads only JSON itself.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mtl.registry.aliases import alias_history, alias_records, log_problems, move_alias, read_alias
from mtl.registry.card import model_card
from mtl.registry.gc import Collected, collect
from mtl.registry.errors import ChecksumMismatch, Conflict, IncompleteVersion, RegistryError, VersionExists
from mtl.registry.layout import ALIAS, CLAIM, MANIFEST, PRODUCTION, VERSION, to_json, version_key
from mtl.registry.store import Store

RECORDS = ("metrics", "gate", "lineage")  # extras the caller may pass, stored as <name>.json
CARD = "README.md"  # the model card: what a person browsing the store reads first (card.py)
REQUIRED_MODEL_FILES = ("model.safetensors", "config.json")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt")  # refused: loading never unpickles
RESERVED = (CLAIM, MANIFEST, CARD, *(f"{name}.json" for name in RECORDS))
_CLAIM_ATTEMPTS = 20  # concurrent publishers: how many next ids to try before giving up
_MOVE_ATTEMPTS = 20  # concurrent movers: how many re-reads of a moved alias before giving up

log = logging.getLogger(__name__)


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _whoami() -> str:
    # The local account and machine. Not authenticated (the S3 server's own logs hold the principal);
    # an STS GetCallerIdentity call would name it but is one more network call that may hang.
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry or LOGNAME
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@dataclass
class Registry:
    store: Store
    clock: Callable[[], str] = _utcnow  # ISO timestamps; injectable so tests are deterministic
    actor: Callable[[], str] = _whoami  # who moves an alias, for the audit trail
    # How old an incomplete version or a temporary file must be before gc removes it: longer than the
    # slowest publish, which may still be writing it (params registry.gc_grace_hours).
    gc_grace: timedelta = timedelta(hours=24)

    # --- versions ------------------------------------------------------------------------------

    def publish(self, model_dir: str | Path, extras: Mapping[str, Any], *, version: str | None = None,
                card: Callable[[str], str] | None = None) -> str:
        """Store a model folder plus its records as a new immutable version; returns its id. card(version) is
        the version's model card (README.md), written with the records."""
        files = self._read_model_dir(Path(model_dir))
        unknown = set(extras) - set(RECORDS)
        if unknown:
            raise RegistryError(f"unknown extras {sorted(unknown)}; expected some of {list(RECORDS)}")
        records = {f"{name}.json": to_json(extras[name]) for name in RECORDS if name in extras}

        created = self.clock()
        version = self._claim(version, created)
        if card is not None:
            records[CARD] = card(version).encode("utf-8")
        manifest_files = []
        for path, data in [*files.items(), *records.items()]:
            self.store.put(version_key(version, path), data, overwrite=False)
            role = "model" if path in files else "record"
            manifest_files.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                                   "bytes": len(data), "role": role})
        manifest = {"version": version, "created": created, "files": manifest_files}
        self.store.put(version_key(version, MANIFEST), to_json(manifest), overwrite=False)
        return version

    def versions(self) -> list[str]:
        """Every claimed version id, complete or not, oldest first."""
        ids = {key.split("/")[1] for key in self.store.list("versions/")}
        return sorted((v for v in ids if VERSION.match(v)), key=lambda v: int(v[1:]))

    def is_complete(self, version: str) -> bool:
        return self.store.exists(version_key(version, MANIFEST))

    def resolve(self, ref: str) -> str:
        """A version id or an alias name -> the version id."""
        if VERSION.match(ref):
            if not self.store.exists(version_key(ref, CLAIM)):
                raise RegistryError(f"no version {ref}; known: {self.versions()}")
            return ref
        alias = self._alias(ref)
        if alias is None:
            raise RegistryError(f"{ref!r} is neither a version nor an alias; aliases: {sorted(self.aliases())}")
        return alias["version"]

    def list_versions(self, *, include_incomplete: bool = False) -> list[dict[str, Any]]:
        """One row per version: version, created, complete, aliases, gate verdict, headline metrics."""
        by_version: dict[str, list[str]] = {}
        for name, record in self.aliases().items():
            by_version.setdefault(record["version"], []).append(name)
        rows = []
        for version in self.versions():
            complete = self.is_complete(version)
            if not complete and not include_incomplete:
                continue
            metrics = self._record(version, "metrics") or {}
            # metrics.json holds one evaluation per split ({"dev": ..., "test": ...}): the headline is test.
            metrics = metrics.get("test", metrics)
            gate = self._record(version, "gate") or {}
            claim = json.loads(self.store.get(version_key(version, CLAIM)))
            rows.append({
                "version": version,
                "created": claim["created"],
                "complete": complete,
                "aliases": sorted(by_version.get(version, [])),
                "gate": gate.get("verdict"),
                "mean_primary": metrics.get("overall", {}).get("mean_primary"),
                "metrics": {f"{task}/{row['metric']}": row["value"]
                            for task, row in metrics.get("per_task", {}).items()},
            })
        return rows

    def show(self, ref: str) -> dict[str, Any]:
        version = self.resolve(ref)
        manifest = self._manifest(version) if self.is_complete(version) else None
        return {
            "version": version,
            "complete": manifest is not None,
            "aliases": sorted(name for name, record in self.aliases().items() if record["version"] == version),
            "manifest": manifest,
            **{name: self._record(version, name) for name in RECORDS},
        }

    def card(self, ref: str) -> str:
        """The version's model card (card.py), from its records and the alias moves that pointed at it."""
        shown = self.show(ref)
        version = shown["version"]
        claim = json.loads(self.store.get(version_key(version, CLAIM)))
        moves = [move for alias in self.aliases() for move in self.history(alias) if move["version"] == version]
        return model_card(version, shown, created=claim["created"], aliases=shown["aliases"], moves=moves)

    def fetch(self, ref: str, dest_dir: str | Path) -> Path:
        """Copy a version's model files into dest_dir after checking each against the manifest."""
        version = self.resolve(ref)
        manifest = self._manifest(version)
        verified = {}
        for entry in manifest["files"]:
            if entry["role"] != "model":
                continue
            try:
                data = self.store.get(version_key(version, entry["path"]))
            except KeyError:
                raise ChecksumMismatch(f"{version}/{entry['path']} is listed in the manifest but missing") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != entry["sha256"]:
                raise ChecksumMismatch(
                    f"{version}/{entry['path']}: sha256 {actual} does not match the manifest's "
                    f"{entry['sha256']}; the stored file is corrupt or was modified, refusing to fetch"
                )
            verified[entry["path"]] = data
        # Nothing is written until every file is verified: no half-fetched model folder.
        dest = Path(dest_dir)
        for path, data in verified.items():
            target = dest.joinpath(*path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return dest

    # --- aliases -------------------------------------------------------------------------------

    def aliases(self) -> dict[str, dict[str, Any]]:
        return alias_records(self.store)

    def set_alias(self, alias: str, version: str, reason: str, *, action: str = "set",
                  expect: str | None = None) -> dict[str, Any]:
        """Point `alias` at a complete, verified version, remembering what it replaced; returns the
        record. With `expect`, move only if the alias still points at that version."""
        if not ALIAS.match(alias):
            raise RegistryError(f"invalid alias {alias!r}: lowercase letters, digits, '-' and '_'")
        version = self.resolve(version)
        if not self.is_complete(version):
            raise IncompleteVersion(f"{version} has no manifest (an interrupted publish): it cannot be aliased")
        self.verify(version)
        for _ in range(_MOVE_ATTEMPTS):
            details = {"moved_at": self.clock(), "moved_by": self.actor(), "reason": reason, "action": action}
            try:
                return move_alias(self.store, alias, version, details, expect)
            except Conflict:
                continue  # another writer moved the alias after we read it: re-read, recompute "previous"
        raise RegistryError(f"{alias} keeps being moved by others; gave up after {_MOVE_ATTEMPTS} attempts")

    def promote(self, model_dir: str | Path, extras: Mapping[str, Any], reason: str,
                card: Callable[[str], str] | None = None) -> str:
        """Publish a gated model and move "production" to it (only once the version is complete).
        First collects what killed promotions left behind; a failure to collect is a warning, not a
        reason to refuse the promotion."""
        verdict = (extras.get("gate") or {}).get("verdict")
        if verdict != "pass":
            raise RegistryError(f"refusing to promote: gate verdict is {verdict!r}, not 'pass' (see gate.json)")
        try:
            self.collect_garbage()
        except RegistryError as error:
            log.warning("registry gc before promoting failed (promoting anyway): %s", error)
        version = self.publish(model_dir, extras, card=card)
        self.set_alias(PRODUCTION, version, reason, action="promote")
        return version

    def rollback(self, alias: str = PRODUCTION, reason: str = "") -> dict[str, Any]:
        """Move `alias` back to the version it replaced. A second rollback undoes the first; to go
        further back, set_alias to an explicit version."""
        current = self._alias(alias)
        if current is None:
            raise RegistryError(f"no alias {alias!r} to roll back")
        if current["previous"] is None:
            raise RegistryError(f"{alias} -> {current['version']} has no previous version to roll back to")
        why = f"rollback from {current['version']}" + (f": {reason}" if reason else "")
        # expect: if someone moves the alias meanwhile, "previous" is no longer the one to go back to.
        return self.set_alias(alias, current["previous"], why, action="rollback", expect=current["version"])

    def verify(self, version: str) -> None:
        """Check that the store holds every file of the manifest with its sha256 (before an alias moves)."""
        for entry in self._manifest(version)["files"]:
            try:
                actual = self.store.sha256(version_key(version, entry["path"]))
            except KeyError:
                raise ChecksumMismatch(f"{version}/{entry['path']} is listed in the manifest but missing") from None
            if actual != entry["sha256"]:
                raise ChecksumMismatch(
                    f"{version}/{entry['path']}: stored sha256 {actual} does not match the manifest's "
                    f"{entry['sha256']}; refusing to point an alias at it"
                )

    def history(self, alias: str) -> list[dict[str, Any]]:
        """Every move of `alias`, oldest first: who, when, from (previous), to (version), why (reason)."""
        return alias_history(self.store, alias)

    def audit(self, alias: str = PRODUCTION) -> list[str]:
        """What is inconsistent in the alias's history (see aliases.log_problems); empty when it is sound."""
        return log_problems(self.store, alias)

    def collect_garbage(self, *, dry_run: bool = False) -> Collected:
        """Remove incomplete versions' files and temporary files older than gc_grace (see gc.py)."""
        now = datetime.fromisoformat(self.clock())
        return collect(self.store, now, self.gc_grace, dry_run=dry_run)

    # --- internals -----------------------------------------------------------------------------

    def _read_model_dir(self, model_dir: Path) -> dict[str, bytes]:
        if not model_dir.is_dir():
            raise RegistryError(f"{model_dir}: not a model folder")
        files = {p.relative_to(model_dir).as_posix(): p.read_bytes()
                 for p in sorted(model_dir.rglob("*")) if p.is_file()}
        missing = [name for name in REQUIRED_MODEL_FILES if name not in files]
        pickled = [name for name in files if name.endswith(PICKLE_SUFFIXES)]
        clashes = [name for name in files if name in RESERVED]
        if missing or pickled or clashes:
            raise RegistryError(
                f"{model_dir}: " + "; ".join(
                    problem for problem in (
                        missing and f"missing {missing}",
                        pickled and f"pickle-format files {pickled} (save safetensors/JSON instead)",
                        clashes and f"file names reserved by the registry {clashes}",
                    ) if problem
                )
            )
        return files

    def _claim(self, version: str | None, created: str) -> str:
        """Reserve a version id by creating its version.json only if absent (atomic in the store)."""
        if version is not None:
            if not VERSION.match(version):
                raise RegistryError(f"invalid version id {version!r}: expected v0001, v0002, ...")
            if version in self.versions():
                raise VersionExists(f"{version} already exists; versions are immutable, publish a new one")
            candidates = [version]
        else:
            existing = self.versions()
            start = int(existing[-1][1:]) + 1 if existing else 1
            candidates = [f"v{n:04d}" for n in range(start, start + _CLAIM_ATTEMPTS)]
        for candidate in candidates:
            try:
                # The random claim id makes every claim's bytes unique, so a store that retries a
                # create (S3) can tell its own landed write from a rival's.
                claim = {"version": candidate, "created": created, "by": self.actor(), "claim": uuid.uuid4().hex}
                self.store.put(version_key(candidate, CLAIM), to_json(claim), overwrite=False)
                return candidate
            except FileExistsError:
                continue  # another publisher took this id a moment ago: try the next one
        raise VersionExists(f"could not claim any of {candidates[0]}..{candidates[-1]}")

    def _manifest(self, version: str) -> dict[str, Any]:
        try:
            return json.loads(self.store.get(version_key(version, MANIFEST)))
        except KeyError:
            raise IncompleteVersion(f"{version} has no manifest (an interrupted publish): not usable") from None

    def _record(self, version: str, name: str) -> Any:
        try:
            return json.loads(self.store.get(version_key(version, f"{name}.json")))
        except KeyError:
            return None

    def _alias(self, alias: str) -> dict[str, Any] | None:
        data, _ = read_alias(self.store, alias)
        return None if data is None else json.loads(data)
