"""The registry on S3 (a real moto server): promote, list, show, rollback, concurrent promotions,
crashes between writes, verification before an alias moves, and the CLI's one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mtl.registry import ChecksumMismatch, IncompleteVersion, Registry, RegistryError
from mtl.registry.errors import Conflict
from mtl.registry.s3 import S3Store

REPO = Path(__file__).resolve().parents[2]


def assert_history_is_a_chain(registry: Registry, alias: str = "production") -> list[dict]:
    """Every move numbered 1..n, each starting where the one before ended: no lost or reordered move."""
    moves = registry.history(alias)
    assert [move["seq"] for move in moves] == list(range(1, len(moves) + 1))
    for before, after in zip([None, *moves], moves):
        assert after["previous"] == (before["version"] if before else None)
    assert registry.resolve(alias) == moves[-1]["version"]
    return moves


def test_promote_list_show_rollback_fetch(s3_registry: Registry, model_dirs, extras, tmp_path: Path):
    source = model_dirs()
    assert s3_registry.promote(source, extras(value=0.81), reason="first") == "v0001"
    assert s3_registry.promote(model_dirs(), extras(value=0.86), reason="better") == "v0002"
    rows = s3_registry.list_versions()
    assert [(r["version"], r["aliases"], r["mean_primary"]) for r in rows] == [
        ("v0001", [], 0.81), ("v0002", ["production"], 0.86)]
    shown = s3_registry.show("production")
    assert shown["version"] == "v0002" and shown["complete"] and shown["lineage"]["git_commit"] == "abc123"
    record = s3_registry.rollback(reason="ner regressed")
    assert (record["version"], record["previous"], record["action"]) == ("v0001", "v0002", "rollback")
    moves = assert_history_is_a_chain(s3_registry)
    # The audit trail: who, when, from, to, why, for every move.
    assert [(m["moved_by"], m["previous"], m["version"], m["reason"]) for m in moves] == [
        ("tester@ci", None, "v0001", "first"), ("tester@ci", "v0001", "v0002", "better"),
        ("tester@ci", "v0002", "v0001", "rollback from v0002: ner regressed")]
    assert all(m["moved_at"].startswith("2025-01-01T") for m in moves)
    fetched = s3_registry.fetch("production", tmp_path / "fetched")
    assert (fetched / "model.safetensors").read_bytes() == (source / "model.safetensors").read_bytes()


def test_local_moves_record_who_moved(registry: Registry, model_dirs, extras):
    registry.promote(model_dirs(), extras(), reason="first")
    assert "@" in registry.history("production")[0]["moved_by"]


class Interleaved:
    """Makes two promotions race: each reads the alias once, then waits until the other has read it
    too, so both start from the same state and one compare-and-swap must fail. (moto checks a write's
    condition and then writes, in two steps; S3Store's lock on this host makes the pair atomic here,
    as S3 itself does everywhere.)"""

    def __init__(self, inner: S3Store) -> None:
        self.inner, self.conflicts = inner, 0
        self._both_read, self._readers = threading.Barrier(2, timeout=30), set()

    def get_versioned(self, key: str):
        try:
            return self.inner.get_versioned(key)
        finally:
            if key.startswith("aliases/") and threading.get_ident() not in self._readers:
                self._readers.add(threading.get_ident())
                self._both_read.wait()

    def put_if(self, key: str, data: bytes, token: str | None) -> None:
        try:
            self.inner.put_if(key, data, token)
        except Conflict:
            self.conflicts += 1
            raise

    def __getattr__(self, name: str):  # put, get, list, exists, delete, sha256
        return getattr(self.inner, name)


def test_concurrent_promotions_lose_no_update(s3_store: S3Store, model_dirs, extras):
    store = Interleaved(s3_store)
    folders = [model_dirs(), model_dirs()]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def promote(i: int) -> None:
        try:
            results[i] = Registry(store, actor=lambda: f"worker{i}@ci").promote(folders[i], extras(), reason=f"worker {i}")
        except BaseException as error:  # surfaced below: an exception in a thread would vanish
            errors.append(error)

    threads = [threading.Thread(target=promote, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results.values()) == ["v0001", "v0002"]  # both succeed, as separate versions
    assert store.conflicts == 1  # one CAS lost the race, re-read the alias and moved it again
    registry = Registry(s3_store)
    moves = assert_history_is_a_chain(registry)
    assert len(moves) == 2 and {m["moved_by"] for m in moves} == {"worker0@ci", "worker1@ci"}


def test_rollback_refuses_when_the_alias_moved_meanwhile(s3_registry: Registry, model_dirs, extras, monkeypatch):
    for reason in ("one", "two", "three"):
        s3_registry.promote(model_dirs(), extras(), reason=reason)
    # rollback read production at v0002 (previous v0001); another promotion moved it to v0003 since.
    monkeypatch.setattr(s3_registry, "_alias", lambda alias: {"version": "v0002", "previous": "v0001"})
    with pytest.raises(RegistryError, match="production now points at v0003, not v0002: it moved meanwhile"):
        s3_registry.rollback()
    monkeypatch.undo()
    assert s3_registry.resolve("production") == "v0003" and len(s3_registry.history("production")) == 3


class DiesOn:
    """Delegates to a real store; the process 'dies' before writing the first key `fatal` matches."""

    def __init__(self, inner, fatal: Callable[[str], bool]) -> None:
        self.inner, self.fatal = inner, fatal

    def put(self, key, data, *, overwrite=True):
        if self.fatal(key):
            raise SystemExit("killed")
        self.inner.put(key, data, overwrite=overwrite)

    def put_if(self, key, data, token):
        if self.fatal(key):
            raise SystemExit("killed")
        self.inner.put_if(key, data, token)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def crash(registry: Registry, fatal: Callable[[str], bool], model_dir: Path, extras) -> None:
    real = registry.store
    registry.store = DiesOn(real, fatal)
    with pytest.raises(SystemExit):
        registry.promote(model_dir, extras(), reason="doomed")
    registry.store = real


def test_crashes_leave_the_alias_on_a_complete_version(s3_registry: Registry, model_dirs, extras):
    s3_registry.promote(model_dirs(), extras(), reason="first")
    crash(s3_registry, lambda key: key.endswith("manifest.json"), model_dirs(), extras)  # mid-publish
    crash(s3_registry, lambda key: key.startswith("aliases/"), model_dirs(), extras)  # before the move
    assert s3_registry.resolve("production") == "v0001"
    assert [(r["version"], r["complete"]) for r in s3_registry.list_versions(include_incomplete=True)] == [
        ("v0001", True), ("v0002", False), ("v0003", True)]
    with pytest.raises(IncompleteVersion):
        s3_registry.set_alias("production", "v0002", reason="try")
    # After the move's commit point, before its history entry: the next move writes the missing entry.
    crash(s3_registry, lambda key: key.startswith("history/"), model_dirs(), extras)
    assert s3_registry.resolve("production") == "v0004"
    assert s3_registry.store.list("history/production/") == ["history/production/000001.json"]
    assert [m["version"] for m in s3_registry.history("production")] == ["v0001", "v0004"]  # from the alias
    s3_registry.rollback(reason="after the crash")
    moves = assert_history_is_a_chain(s3_registry)
    assert [m["version"] for m in moves] == ["v0001", "v0004", "v0001"]


def test_alias_moves_only_to_versions_whose_objects_check_out(s3_registry: Registry, model_dirs, extras,
                                                            bucket: str, s3_admin):
    s3_registry.promote(model_dirs(), extras(), reason="first")
    s3_registry.publish(model_dirs(), extras())
    s3_registry.publish(model_dirs(), extras())
    raw = s3_admin
    raw.put_object(Bucket=bucket, Key="team/models/versions/v0002/model.safetensors", Body=b"tampered")
    with pytest.raises(ChecksumMismatch, match="v0002/model.safetensors: stored sha256 .* does not match"):
        s3_registry.set_alias("production", "v0002", reason="x")
    raw.delete_object(Bucket=bucket, Key="team/models/versions/v0003/vocab.json")
    with pytest.raises(ChecksumMismatch, match="v0003/vocab.json is listed in the manifest but missing"):
        s3_registry.set_alias("production", "v0003", reason="x")
    assert s3_registry.resolve("production") == "v0001" and len(s3_registry.history("production")) == 1


# --- the CLI ----------------------------------------------------------------------------------------


def _params_file(folder: Path, uri: str, endpoint: str) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["registry"] = {"uri": uri, "endpoint_url": endpoint}
    folder.mkdir()
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder / "params.yaml"


def test_cli_on_s3_lists_versions_or_says_what_is_wrong_in_one_line(s3_registry: Registry, model_dirs, extras,
                                                                   bucket: str, s3_env: str, tmp_path: Path):
    s3_registry.promote(model_dirs(), extras(value=0.86), reason="first")
    # The endpoint is in params and, for a caller that does not pass params' S3 settings to
    # open_store, in the environment too.
    env = {**os.environ, "MTL_S3_ENDPOINT_URL": s3_env}
    no_keys = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    cases = {
        "ok": (_params_file(tmp_path / "ok", f"s3://{bucket}/team/models", s3_env), env),
        "no bucket": (_params_file(tmp_path / "nobucket", "s3://no-such-bucket/models", s3_env), env),
        "no credentials": (_params_file(tmp_path / "nokeys", f"s3://{bucket}/team/models", s3_env), no_keys),
    }
    # Three CLI processes at once: each spends ~2 s importing the project.
    running = {name: subprocess.Popen([sys.executable, "-m", "mtl.cli", "registry", "list", "--params", str(params)],
                                      cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, (params, environment) in cases.items()}
    done = {name: (process.wait(timeout=120), *process.communicate()) for name, process in running.items()}

    code, out, err = done["ok"]
    created = s3_registry.list_versions()[0]["created"]
    assert code == 0 and out.startswith(f"v0001  {created}  [production]  gate=pass"), err
    for name, message in [("no bucket", "error: s3://no-such-bucket/models: bucket does not exist"),
                          ("no credentials", f"error: s3://{bucket}/team/models: no AWS credentials found "
                                             "(environment, profile or instance role)")]:
        code, out, err = done[name]
        assert (code, out, err.splitlines()) == (1, "", [message])
