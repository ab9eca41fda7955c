"""Where the registry keeps what, as keys of a Store (the registry, its alias log and its collector share it):

    versions/v0001/version.json     the claim, written first and only if absent: who owns the id
    versions/v0001/<model files>    model.safetensors, config.json, vocab.json, labels.json, ...
    versions/v0001/metrics.json     the evaluation dict; gate.json, lineage.json likewise (caller's dicts)
    versions/v0001/manifest.json    every file above with its sha256, written LAST: a version without
                                    it is incomplete (a crash mid-publish) and can never be aliased
    aliases/production.json         {alias, version, previous, moved_at, moved_by, reason, action, seq}
    history/production/000001.json  the record of move number `seq`, never rewritten (append-only)
"""

from __future__ import annotations

import json
import re
from typing import Any

VERSION = re.compile(r"^v(\d{4,})$")
ALIAS = re.compile(r"^[a-z][a-z0-9_-]*$")
PRODUCTION = "production"  # the alias that serving, the gate and `mtl predict` follow
CLAIM = "version.json"
MANIFEST = "manifest.json"


def version_key(version: str, name: str) -> str:
    return f"versions/{version}/{name}"


def alias_key(alias: str) -> str:
    return f"aliases/{alias}.json"


def history_key(alias: str, seq: int) -> str:
    return f"history/{alias}/{seq:06d}.json"


def to_json(data: Any) -> bytes:
    """The one serialisation of every JSON key: re-serialising a record read back gives the same bytes."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
