"""Concurrency you can prove: 8 promotions at once on both stores lose no move, and a move that two
writers committed under one number (what a store with non-atomic conditional writes lets through) fails
the loser loudly instead of being reported as done."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from mtl.registry import MoveConflict, Registry
from mtl.registry.layout import alias_key
from mtl.registry.s3 import S3Store

WORKERS = 8


def promote_at_once(registries: list[Registry], folders: list[Path], round_: int) -> dict[int, object]:
    """Each registry promotes its folder in its own thread, all released together; worker -> version or error."""
    start, outcomes = threading.Barrier(len(registries), timeout=60), {}
    passed = {"gate": {"verdict": "pass"}}  # no other records: fewer requests per promotion

    def work(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = registries[i].promote(folders[i], passed, reason=f"round {round_} worker {i}")
        except Exception as error:  # noqa: BLE001 - every outcome is checked below
            outcomes[i] = error

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(registries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("kind,rounds", [("local", 3), ("s3", 2)])
def test_concurrent_promotions_lose_no_move(kind: str, rounds: int, request, model_dirs):
    if kind == "local":
        stores = [request.getfixturevalue("registry").store] * WORKERS
    else:
        first: S3Store = request.getfixturevalue("s3_store")
        # One store (one client, one connection pool) per worker, like separate processes; made here
        # because a boto3 session must not create clients from several threads at once.
        stores = [S3Store(first.bucket, first.prefix, first.endpoint_url, first.region, session=first.session)
                  for _ in range(WORKERS)]
        for store in stores:
            assert store.client
    registries = [Registry(store, actor=lambda i=i: f"worker{i}@ci") for i, store in enumerate(stores)]
    folders = [model_dirs() for _ in range(WORKERS)]
    for round_ in range(rounds):
        outcomes = promote_at_once(registries, folders, round_)
        successes = [v for v in outcomes.values() if isinstance(v, str)]
        assert len(successes) == WORKERS, outcomes  # nothing to fail here: every promotion must succeed
        moves = registries[0].history("production")
        assert {m["version"] for m in moves} >= set(successes)  # every reported success is a logged move
        assert len(moves) == WORKERS * (round_ + 1)
        assert registries[0].resolve("production") == moves[-1]["version"]  # the alias is on the last move
        assert registries[0].audit() == []


class StaleReads:
    """A store whose conditional write of the alias is not atomic, as on moto under concurrency: this
    writer's first read of the alias returns what it held before (`stale`), and its compare-and-swap
    with that stale token goes through, although another move has committed since."""

    def __init__(self, inner, stale: tuple[bytes, str]) -> None:
        self.inner, self.stale = inner, stale

    def get_versioned(self, key: str):
        if key == alias_key("production") and self.stale is not None:
            stale, self.stale = self.stale, None
            return stale
        return self.inner.get_versioned(key)

    def put_if(self, key: str, data: bytes, token: str | None) -> None:
        self.inner.put(key, data)  # the condition passed on the stale state: the write lands

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.fixture(params=["local", "s3"])
def any_registry(request) -> Registry:
    return request.getfixturevalue("registry" if request.param == "local" else "s3_registry")


def test_a_move_committed_twice_fails_the_one_the_history_does_not_hold(any_registry: Registry, model_dirs, extras):
    registry = any_registry
    registry.promote(model_dirs(), extras(), reason="first")
    before = registry.store.get_versioned(alias_key("production"))  # what the loser read
    winner = registry.promote(model_dirs(), extras(), reason="winner")  # move 2, logged
    loser = Registry(StaleReads(registry.store, before), clock=registry.clock, actor=lambda: "loser@ci")
    loser_version = loser.publish(model_dirs(), extras())
    with pytest.raises(MoveConflict, match=f"move 2 to {loser_version} collided with a concurrent move 2 to {winner}"):
        loser.set_alias("production", loser_version, reason="loser")
    # The loser's record had landed on the alias; it was put back on the logged move.
    assert registry.resolve("production") == winner
    assert [m["version"] for m in registry.history("production")] == ["v0001", winner]
    assert registry.audit() == []


class OverwrittenAfterCommit:
    """After this writer's alias commit lands, a rival's record for the same move number overwrites it
    (the rival's conditional write passed its check before ours landed, and wrote after)."""

    def __init__(self, inner, rival: bytes) -> None:
        self.inner, self.rival = inner, rival

    def put_if(self, key: str, data: bytes, token: str | None) -> None:
        self.inner.put_if(key, data, token)
        if self.rival is not None:
            rival, self.rival = self.rival, None
            self.inner.put(key, rival)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_an_alias_overwritten_by_a_colliding_move_is_put_back_on_the_logged_one(any_registry: Registry, model_dirs,
                                                                               extras):
    registry = any_registry
    registry.promote(model_dirs(), extras(), reason="first")
    rival = registry.publish(model_dirs(), extras())
    record = json.loads(registry.store.get(alias_key("production")))
    rival_record = {**record, "version": rival, "previous": "v0001", "seq": 2, "moved_by": "rival@ci"}
    mover = Registry(OverwrittenAfterCommit(registry.store, json.dumps(rival_record).encode()), clock=registry.clock)
    version = mover.publish(model_dirs(), extras())
    assert mover.set_alias("production", version, reason="mine")["seq"] == 2
    # Ours was logged first, so it stands: the alias holds it again, and the rival's move is in no record.
    assert registry.resolve("production") == version
    assert [m["version"] for m in registry.history("production")] == ["v0001", version]
    assert registry.audit() == []


def test_s3_conditional_writes_wait_for_this_hosts_lock(s3_store: S3Store):
    # moto checks a condition and writes in two steps; the store serialises conditional writes to one
    # key among this machine's writers (a lock file), which makes them atomic here.
    s3_store.put("alias.json", b"one")
    _, token = s3_store.get_versioned("alias.json")
    done = threading.Event()

    def swap() -> None:
        s3_store.put_if("alias.json", b"two", token)
        done.set()

    with s3_store._host_lock(s3_store._key("alias.json")):
        writer = threading.Thread(target=swap)
        writer.start()
        assert not done.wait(0.3)  # held off while another writer holds the lock
    writer.join(timeout=30)
    assert done.is_set() and s3_store.get("alias.json") == b"two"
