"""Registry aliases: promote, set_alias, rollback, the append-only history."""

from __future__ import annotations

import json

import pytest

from mtl.registry import Registry, RegistryError


def test_promote_moves_production_and_records_what_it_replaced(registry: Registry, model_dirs, extras):
    assert registry.promote(model_dirs(), extras(), reason="first") == "v0001"
    assert registry.promote(model_dirs(), extras(), reason="better ner") == "v0002"
    record = json.loads(registry.store.get("aliases/production.json"))
    assert record["version"] == "v0002" and record["previous"] == "v0001"
    assert record["reason"] == "better ner" and record["action"] == "promote" and record["moved_at"]
    assert registry.resolve("production") == "v0002"


def test_promote_refuses_a_failed_gate(registry: Registry, model_dirs, extras):
    with pytest.raises(RegistryError, match="gate verdict is 'fail'"):
        registry.promote(model_dirs(), extras(verdict="fail"), reason="x")
    with pytest.raises(RegistryError, match="gate verdict is None"):
        registry.promote(model_dirs(), {"metrics": {}}, reason="x")
    assert registry.versions() == [] and registry.aliases() == {}


def test_rollback_and_history(registry: Registry, model_dirs, extras):
    registry.promote(model_dirs(), extras(), reason="one")
    registry.promote(model_dirs(), extras(), reason="two")
    record = registry.rollback(reason="ner regressed in prod")
    assert record["version"] == "v0001" and record["previous"] == "v0002"
    assert record["reason"] == "rollback from v0002: ner regressed in prod" and record["action"] == "rollback"
    assert registry.resolve("production") == "v0001"
    # A second rollback undoes the first.
    assert registry.rollback()["version"] == "v0002"
    moves = registry.history("production")
    assert [(m["version"], m["previous"], m["action"]) for m in moves] == [
        ("v0001", None, "promote"), ("v0002", "v0001", "promote"),
        ("v0001", "v0002", "rollback"), ("v0002", "v0001", "rollback"),
    ]
    # Append-only: one key per move, earlier ones untouched.
    assert registry.store.list("history/production/")[0] == "history/production/000001.json"
    assert json.loads(registry.store.get("history/production/000001.json"))["reason"] == "one"


def test_rollback_needs_somewhere_to_go(registry: Registry, model_dirs, extras):
    with pytest.raises(RegistryError, match="no alias"):
        registry.rollback()
    registry.promote(model_dirs(), extras(), reason="first")
    with pytest.raises(RegistryError, match="no previous version"):
        registry.rollback()


def test_set_alias_other_names_and_no_op(registry: Registry, model_dirs, extras):
    registry.publish(model_dirs(), extras())
    registry.publish(model_dirs(), extras())
    registry.set_alias("staging", "v0002", reason="try it")
    assert registry.set_alias("staging", "v0002", reason="again")["reason"] == "try it"  # no move, no record
    assert len(registry.history("staging")) == 1
    registry.set_alias("production", "staging", reason="from staging")  # a ref may be an alias
    assert registry.resolve("production") == "v0002"
    assert sorted(registry.aliases()) == ["production", "staging"]
    with pytest.raises(RegistryError, match="invalid alias"):
        registry.set_alias("Prod!", "v0001", reason="x")
    with pytest.raises(RegistryError, match="no version"):
        registry.set_alias("staging", "v0099", reason="x")
