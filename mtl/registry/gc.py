"""Garbage collection: what killed promotions leave behind, removed once older than a grace period.

A publish killed before its manifest leaves an incomplete version (model files as big as the model);
a LocalStore write killed midway leaves a temporary file. Neither is ever used (an alias moves only
to a complete version), and nothing else removes them. collect() does, once they are older than the
grace period (a younger one may belong to a publish still running), and never a version that an alias
or a history entry names (as its version or its previous one). An incomplete version keeps its claim
(version.json), so its id stays taken: a version id never names two models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from mtl.registry.layout import CLAIM, MANIFEST, VERSION, version_key
from mtl.registry.store import Store


@dataclass
class Collected:
    versions: list[str] = field(default_factory=list)  # incomplete versions whose files were removed
    files: list[str] = field(default_factory=list)  # every key and temporary file removed
    kept: list[str] = field(default_factory=list)  # incomplete versions left alone, each with why


def collect(store: Store, now: datetime, grace: timedelta, *, dry_run: bool = False) -> Collected:
    """Remove incomplete versions' files (all but the claim) and the store's temporary files that are
    older than `grace` at `now`; with dry_run, only say what would go."""
    collected, now = Collected(), _aware(now)
    referenced: set[str] | None = None  # read only if something is old enough to go
    for version, keys in sorted(_incomplete(store).items()):
        claimed = _claimed_at(store, version)
        if claimed is None:
            collected.kept.append(f"{version}: no claim to date it")
            continue
        if now - claimed < grace:
            collected.kept.append(f"{version}: claimed {claimed.isoformat()}, within the grace period")
            continue
        referenced = _referenced(store) if referenced is None else referenced
        if version in referenced:
            collected.kept.append(f"{version}: an alias or the history names it")
            continue
        if store.exists(version_key(version, MANIFEST)):
            continue  # completed since it was listed: a publish slower than the grace period
        if not dry_run:
            for key in keys:
                store.delete(key)
        collected.versions.append(version)
        collected.files.extend(keys)
    collected.files.extend(store.sweep(now - grace, dry_run=dry_run))
    return collected


def _incomplete(store: Store) -> dict[str, list[str]]:
    """Versions without a manifest, with their keys other than the claim (only those that have some)."""
    by_version: dict[str, list[str]] = {}
    for key in store.list("versions/"):
        by_version.setdefault(key.split("/")[1], []).append(key)
    return {
        version: [key for key in keys if key != version_key(version, CLAIM)]
        for version, keys in by_version.items()
        if VERSION.match(version) and version_key(version, MANIFEST) not in keys
        and keys != [version_key(version, CLAIM)]
    }


def _claimed_at(store: Store, version: str) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(json.loads(store.get(version_key(version, CLAIM)))["created"]))
    except (KeyError, TypeError, ValueError):  # no claim, or not one the registry wrote
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # the registry's clock is UTC


def _referenced(store: Store) -> set[str]:
    """Every version an alias record or a history entry names, as its version or its previous one."""
    keys = [key for key in store.list("aliases/") if key.endswith(".json")] + store.list("history/")
    records = [json.loads(store.get(key)) for key in keys]
    return {name for record in records for name in (record.get("version"), record.get("previous")) if name}
