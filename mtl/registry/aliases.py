"""Aliases: movable names over versions, moved by compare-and-swap, every move kept in an append-only log.

An alias record (aliases/<alias>.json) carries its move number `seq`. A move reads the record, writes
one numbered one more in its place only if the record is still the one read (Store.put_if: the commit
point), then creates history entry `seq` (create-only, never rewritten). A crash between the two
leaves the entry missing; the next move writes it (_settle).

Verified after writing. On S3 a conditional write is atomic, so no two moves commit under one number.
A store that checks the condition and writes in two steps (a test server, used from several machines)
can let two through, and both movers would believe they moved the alias. So a move re-reads what it
wrote: the history entry, created once, decides which move owns the number; a mover whose record it
does not hold fails with MoveConflict, and an alias left holding such a record is put back on the
logged one. A move reported as done is always in the history.
"""

from __future__ import annotations

import json
from typing import Any

from mtl.registry.errors import Conflict, MoveConflict, RegistryError
from mtl.registry.layout import alias_key, history_key, to_json
from mtl.registry.store import Store


def read_alias(store: Store, alias: str) -> tuple[bytes | None, str | None]:
    """The alias record's bytes and store token; (None, None) for no such alias."""
    try:
        return store.get_versioned(alias_key(alias))
    except (KeyError, ValueError):  # ValueError: a name the store rejects as a key is no alias
        return None, None


def alias_records(store: Store) -> dict[str, dict[str, Any]]:
    """Every alias's current record, by alias name."""
    found = (json.loads(store.get(key)) for key in store.list("aliases/") if key.endswith(".json"))
    return {record["alias"]: record for record in found}


def alias_history(store: Store, alias: str) -> list[dict[str, Any]]:
    """Every move of `alias`, oldest first."""
    moves = [json.loads(store.get(key)) for key in store.list(f"history/{alias}/")]
    data, _ = read_alias(store, alias)
    if data is not None:
        current = json.loads(data)
        if current["seq"] > (moves[-1]["seq"] if moves else 0):
            moves.append(current)  # committed, but its log entry is not written yet (a crash, or in flight)
    return moves


def move_alias(store: Store, alias: str, version: str, details: dict[str, Any], expect: str | None) -> dict[str, Any]:
    """One attempt to point `alias` at `version` (details: moved_at, moved_by, reason, action); the record.
    Raises Conflict when another writer moved the alias first: the caller re-reads and tries again."""
    current, token = _settle(store, alias)
    if current is not None and current["version"] == version:
        return current  # already there: recording a move would make "previous" point at itself
    if expect is not None and (current or {}).get("version") != expect:
        found = current["version"] if current else "nothing"
        raise RegistryError(f"{alias} now points at {found}, not {expect}: it moved meanwhile; nothing changed")
    record = {
        "alias": alias,
        "version": version,
        "previous": current["version"] if current else None,
        **details,
        # One more than the record it replaces, which only one compare-and-swap can replace.
        "seq": current["seq"] + 1 if current else 1,
    }
    data = to_json(record)
    try:
        store.put_if(alias_key(alias), data, token)  # the commit point
    except RegistryError:
        if read_alias(store, alias)[0] != data:  # the answer was lost, every retry too: did the write land?
            raise
    try:
        _verify(store, alias, record, data)
    except MoveConflict:
        raise
    except RegistryError as error:
        raise RegistryError(f"{alias} moved to {version} (move {record['seq']}), but reading it back failed: "
                            f"{error}. `mtl registry show {alias}` says where it points") from None
    return record


def _settle(store: Store, alias: str) -> tuple[dict[str, Any] | None, str | None]:
    """The alias record and its token, once history entry `seq` holds exactly its bytes: writes the
    entry a crashed mover never wrote; an alias holding another move than the logged one of its number
    is put back on the logged one, and Conflict raised so that the caller reads again."""
    data, token = read_alias(store, alias)
    if data is None:
        return None, None
    record = json.loads(data)
    logged = _log(store, alias, record["seq"], data)
    if logged != data:
        store.put_if(alias_key(alias), logged, token)
        raise Conflict(f"{alias}: move {record['seq']} was committed twice; put back the logged one")
    return record, token


def _log(store: Store, alias: str, seq: int, data: bytes) -> bytes:
    """Create history entry `seq` holding `data` unless it exists; the bytes the entry holds."""
    key = history_key(alias, seq)
    try:
        return store.get(key)
    except KeyError:
        pass
    try:
        store.put(key, data, overwrite=False)
    except FileExistsError:
        pass  # another mover wrote it a moment ago; what it holds is compared by the caller
    return store.get(key)


def _verify(store: Store, alias: str, record: dict[str, Any], data: bytes) -> None:
    """Re-read the history entry and the alias this move wrote, and compare bytes."""
    seq = record["seq"]
    logged = _log(store, alias, seq, data)
    if logged != data:
        # Another move committed under our number and was logged first: it stands, ours did not happen.
        try:
            _settle(store, alias)  # puts the alias back on the logged move if it still holds ours
        except Conflict:
            pass
        theirs = json.loads(logged)
        raise MoveConflict(
            f"{alias}: move {seq} to {record['version']} collided with a concurrent move {seq} to "
            f"{theirs['version']} by {theirs['moved_by']}, which stands; this move did not happen, retry it")
    now, token = read_alias(store, alias)
    if now is not None and now != data and json.loads(now)["seq"] == seq:
        # A colliding move overwrote our record after it landed; the log says ours stands.
        try:
            store.put_if(alias_key(alias), data, token)
        except Conflict:
            pass  # moved on (or put back by another reader) since: settled by whoever moved it


def log_problems(store: Store, alias: str) -> list[str]:
    """What is inconsistent in the alias's log; empty when it is sound: entries numbered 1..n, each
    starting where the one before ended, and the alias on the last entry (or on the one move after it
    whose entry a crash left unwritten)."""
    found, last = [], None  # last: the bytes of the entry before
    entries = store.list(f"history/{alias}/")
    for seq, key in enumerate(entries, 1):
        data = store.get(key)
        record = json.loads(data)
        if key != history_key(alias, seq) or record["seq"] != seq:
            found.append(f"{key}: holds move {record['seq']}, expected move {seq}")
        if record["previous"] != (json.loads(last)["version"] if last else None):
            found.append(f"{key}: starts from {record['previous']}, not where move {seq - 1} ended")
        last = data
    data, _ = read_alias(store, alias)
    if data is None:
        return found + ([f"{alias_key(alias)}: missing, but {len(entries)} moves are logged"] if entries else [])
    current = json.loads(data)
    ended = json.loads(last)["version"] if last else None
    pending = current["seq"] == len(entries) + 1 and current["previous"] == ended
    if data != last and not pending:
        found.append(f"{alias_key(alias)}: holds move {current['seq']} to {current['version']}, "
                     f"which is not the last logged move ({len(entries)})")
    return found
