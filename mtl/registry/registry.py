"""The model registry: immutable versions and movable aliases over a Store.

Layout (every key goes through the Store protocol; nothing here knows about folders or S3):

    versions/v0001/version.json     the claim, written first and only if absent: who owns the id
    versions/v0001/<model files>    model.safetensors, config.json, vocab.json, labels.json, ...
    versions/v0001/metrics.json     the evaluation dict; gate.json, lineage.json likewise (caller's dicts)
    versions/v0001/manifest.json    every file above with its sha256, written LAST: a version without
                                    it is incomplete (a crash mid-publish) and can never be aliased
    aliases/production.json         {alias, version, previous, moved_at, moved_by, reason, action, seq}
    history/production/000001.json  the record of move number `seq`, never rewritten (append-only)

An alias moves by compare-and-swap (Store.put_if) and only to a version whose every file the store
still holds with the manifest's sha256, so concurrent promotions never lose an update and a crash
mid-publish never leaves an alias on a partial version. The alias record is the commit point; its
history entry follows and, if a crash comes in between, is written by the next move (see _move).

Models are data: the registry stores and verifies bytes, and reads only JSON itself.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mtl.registry.store import Conflict, Store

VERSION = re.compile(r"^v(\d{4,})$")
ALIAS = re.compile(r"^[a-z][a-z0-9_-]*$")
RECORDS = ("metrics", "gate", "lineage")  # extras the caller may pass, stored as <name>.json
REQUIRED_MODEL_FILES = ("model.safetensors", "config.json")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt")  # refused: loading never unpickles
RESERVED = ("version.json", "manifest.json", *(f"{name}.json" for name in RECORDS))
_CLAIM_ATTEMPTS = 20  # concurrent publishers: how many next ids to try before giving up


class RegistryError(Exception):
    """A registry operation was refused; the message says why and what to do."""


class VersionExists(RegistryError):
    pass


class IncompleteVersion(RegistryError):
    pass


class ChecksumMismatch(RegistryError):
    pass


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


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class Registry:
    store: Store
    clock: Callable[[], str] = _utcnow  # ISO timestamps; injectable so tests are deterministic
    actor: Callable[[], str] = _whoami  # who moves an alias, for the audit trail

    # --- versions ------------------------------------------------------------------------------

    def publish(self, model_dir: str | Path, extras: Mapping[str, Any], *, version: str | None = None) -> str:
        """Store a model folder plus its records as a new immutable version; returns its id."""
        files = self._read_model_dir(Path(model_dir))
        unknown = set(extras) - set(RECORDS)
        if unknown:
            raise RegistryError(f"unknown extras {sorted(unknown)}; expected some of {list(RECORDS)}")
        records = {f"{name}.json": _json(extras[name]) for name in RECORDS if name in extras}

        created = self.clock()
        version = self._claim(version, created)
        manifest_files = []
        for path, data in [*files.items(), *records.items()]:
            self.store.put(f"versions/{version}/{path}", data, overwrite=False)
            role = "model" if path in files else "record"
            manifest_files.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                                   "bytes": len(data), "role": role})
        manifest = {"version": version, "created": created, "files": manifest_files}
        self.store.put(f"versions/{version}/manifest.json", _json(manifest), overwrite=False)
        return version

    def versions(self) -> list[str]:
        """Every claimed version id, complete or not, oldest first."""
        ids = {key.split("/")[1] for key in self.store.list("versions/")}
        return sorted((v for v in ids if VERSION.match(v)), key=lambda v: int(v[1:]))

    def is_complete(self, version: str) -> bool:
        return self.store.exists(f"versions/{version}/manifest.json")

    def resolve(self, ref: str) -> str:
        """A version id or an alias name -> the version id."""
        if VERSION.match(ref):
            if not self.store.exists(f"versions/{ref}/version.json"):
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
            claim = json.loads(self.store.get(f"versions/{version}/version.json"))
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

    def fetch(self, ref: str, dest_dir: str | Path) -> Path:
        """Copy a version's model files into dest_dir after checking each against the manifest."""
        version = self.resolve(ref)
        manifest = self._manifest(version)
        verified = {}
        for entry in manifest["files"]:
            if entry["role"] != "model":
                continue
            try:
                data = self.store.get(f"versions/{version}/{entry['path']}")
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
        records = (json.loads(self.store.get(key)) for key in self.store.list("aliases/") if key.endswith(".json"))
        return {record["alias"]: record for record in records}

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
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                return self._move(alias, version, reason, action, expect)
            except Conflict:
                continue  # another writer moved the alias after we read it: re-read, recompute "previous"
        raise RegistryError(f"{alias} keeps being moved by others; gave up after {_CLAIM_ATTEMPTS} attempts")

    def promote(self, model_dir: str | Path, extras: Mapping[str, Any], reason: str) -> str:
        """Publish a gated model and move "production" to it (only once the version is complete)."""
        verdict = (extras.get("gate") or {}).get("verdict")
        if verdict != "pass":
            raise RegistryError(f"refusing to promote: gate verdict is {verdict!r}, not 'pass' (see gate.json)")
        version = self.publish(model_dir, extras)
        self.set_alias("production", version, reason, action="promote")
        return version

    def rollback(self, alias: str = "production", reason: str = "") -> dict[str, Any]:
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
                actual = self.store.sha256(f"versions/{version}/{entry['path']}")
            except KeyError:
                raise ChecksumMismatch(f"{version}/{entry['path']} is listed in the manifest but missing") from None
            if actual != entry["sha256"]:
                raise ChecksumMismatch(
                    f"{version}/{entry['path']}: stored sha256 {actual} does not match the manifest's "
                    f"{entry['sha256']}; refusing to point an alias at it"
                )

    def history(self, alias: str) -> list[dict[str, Any]]:
        """Every move of `alias`, oldest first: who, when, from (previous), to (version), why (reason)."""
        moves = [json.loads(self.store.get(key)) for key in self.store.list(f"history/{alias}/")]
        current = self._alias(alias)
        logged = moves[-1].get("seq", len(moves)) if moves else 0
        if current is not None and current.get("seq", 0) > logged:
            moves.append(current)  # committed, but its log entry is not written yet (a crash, or in flight)
        return moves

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
                self.store.put(f"versions/{candidate}/version.json", _json(claim), overwrite=False)
                return candidate
            except FileExistsError:
                continue  # another publisher took this id a moment ago: try the next one
        raise VersionExists(f"could not claim any of {candidates[0]}..{candidates[-1]}")

    def _manifest(self, version: str) -> dict[str, Any]:
        try:
            return json.loads(self.store.get(f"versions/{version}/manifest.json"))
        except KeyError:
            raise IncompleteVersion(f"{version} has no manifest (an interrupted publish): not usable") from None

    def _record(self, version: str, name: str) -> Any:
        try:
            return json.loads(self.store.get(f"versions/{version}/{name}.json"))
        except KeyError:
            return None

    def _alias(self, alias: str) -> dict[str, Any] | None:
        return self._alias_versioned(alias)[0]

    def _alias_versioned(self, alias: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            data, token = self.store.get_versioned(f"aliases/{alias}.json")
        except (KeyError, ValueError):  # ValueError: a name the store rejects as a key is no alias
            return None, None
        return json.loads(data), token

    def _move(self, alias: str, version: str, reason: str, action: str, expect: str | None) -> dict[str, Any]:
        """One compare-and-swap attempt; raises Conflict when another writer moved the alias first."""
        current, token = self._alias_versioned(alias)
        if current is not None:
            self._record_history(alias, current)  # repairs the entry a crashed mover never wrote
            if current["version"] == version:
                return current  # already there: recording a move would make "previous" point at itself
        if expect is not None and (current or {}).get("version") != expect:
            found = current["version"] if current else "nothing"
            raise RegistryError(f"{alias} now points at {found}, not {expect}: it moved meanwhile; nothing changed")
        record = {
            "alias": alias,
            "version": version,
            "previous": current["version"] if current else None,
            "moved_at": self.clock(),
            "moved_by": self.actor(),
            "reason": reason,
            "action": action,
            # The move's number: one more than the record it replaces, which only one CAS can replace,
            # so numbers never collide. Records from before numbering count their history entries.
            "seq": self._seq(alias, current) + 1,
        }
        self.store.put_if(f"aliases/{alias}.json", _json(record), token)  # the commit point
        self._record_history(alias, record)
        return record

    def _seq(self, alias: str, record: dict[str, Any] | None) -> int:
        if record is None:
            return 0
        return record.get("seq") or len(self.store.list(f"history/{alias}/"))

    def _record_history(self, alias: str, record: dict[str, Any]) -> None:
        # One key per move, created only if absent: the log is never rewritten.
        if "seq" not in record:
            return  # written before moves were numbered: its entry is in the log already
        key = f"history/{alias}/{record['seq']:06d}.json"
        if self.store.exists(key):
            return
        try:
            self.store.put(key, _json(record), overwrite=False)
        except FileExistsError:
            pass  # the next mover wrote it for us a moment ago (the same record: the same bytes)
