"""The model registry: immutable versions and movable aliases over a Store.

Layout (every key goes through the Store protocol; nothing here knows about folders or S3):

    versions/v0001/version.json     the claim, written first and only if absent: who owns the id
    versions/v0001/<model files>    model.safetensors, config.json, vocab.json, labels.json, ...
    versions/v0001/metrics.json     the evaluation dict; gate.json, lineage.json likewise (caller's dicts)
    versions/v0001/manifest.json    every file above with its sha256, written LAST: a version without
                                    it is incomplete (a crash mid-publish) and can never be aliased
    aliases/production.json         {alias, version, previous, moved_at, reason, action}
    history/production/000001.json  one record per alias move, never rewritten (append-only)

Models are data: the registry stores and verifies bytes, and reads only JSON itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mtl.registry.store import Store

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


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass
class Registry:
    store: Store
    clock: Callable[[], str] = _utcnow  # ISO timestamps; injectable so tests are deterministic

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

    def set_alias(self, alias: str, version: str, reason: str, *, action: str = "set") -> dict[str, Any]:
        """Point `alias` at a complete version, remembering what it replaced; returns the record."""
        if not ALIAS.match(alias):
            raise RegistryError(f"invalid alias {alias!r}: lowercase letters, digits, '-' and '_'")
        version = self.resolve(version)
        if not self.is_complete(version):
            raise IncompleteVersion(f"{version} has no manifest (an interrupted publish): it cannot be aliased")
        current = self._alias(alias)
        if current is not None and current["version"] == version:
            return current  # already there: recording a move would make "previous" point at itself
        record = {
            "alias": alias,
            "version": version,
            "previous": current["version"] if current else None,
            "moved_at": self.clock(),
            "reason": reason,
            "action": action,
        }
        self.store.put(f"aliases/{alias}.json", _json(record))  # atomic replace: the commit point
        self._append_history(alias, record)
        return record

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
        return self.set_alias(alias, current["previous"], why, action="rollback")

    def history(self, alias: str) -> list[dict[str, Any]]:
        """Every move of `alias`, oldest first."""
        return [json.loads(self.store.get(key)) for key in self.store.list(f"history/{alias}/")]

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
                self.store.put(f"versions/{candidate}/version.json",
                               _json({"version": candidate, "created": created}), overwrite=False)
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
        try:
            return json.loads(self.store.get(f"aliases/{alias}.json"))
        except (KeyError, ValueError):  # ValueError: a name the store rejects as a key is no alias
            return None

    def _append_history(self, alias: str, record: dict[str, Any]) -> None:
        # One key per move, created only if absent: the log is never rewritten, even by two writers.
        for _ in range(_CLAIM_ATTEMPTS):
            key = f"history/{alias}/{len(self.store.list(f'history/{alias}/')) + 1:06d}.json"
            try:
                self.store.put(key, _json(record), overwrite=False)
                return
            except FileExistsError:
                continue
        raise RegistryError(f"could not append to the history of {alias}")
