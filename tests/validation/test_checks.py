"""Batch-level checks: each fires at "fail" and at "warn", and stays silent at "off"."""

from __future__ import annotations

import pytest

from mtl.config import ValidationChecks, ValidationConfig
from mtl.validation import failures
from tests.validation.conftest import task

CLASSIFICATION = task(kind="classification", labels=["pos", "neg"])
ACTIONS = ["fail", "warn", "off"]


def only(check: str, action: str, **settings) -> ValidationConfig:
    """A config where `check` has `action` and every other check is off."""
    checks = {name: "off" for name in ValidationChecks.model_fields}
    return ValidationConfig(checks=ValidationChecks(**{**checks, check: action}), **settings)


def assert_issue(result, check: str, action: str, *fragments: str) -> None:
    if action == "off":
        assert result.issues == []
        assert failures(result) == []
        entry = next(e for e in result.report["checks"] if e["check"] == check)
        assert entry == {"check": check, "action": "off", "fired": False, "message": None}
        return
    [issue] = result.issues
    assert (issue.check, issue.action) == (check, action)
    assert issue.message.startswith(f"toy: {check}: ")
    for fragment in fragments:
        assert fragment in issue.message
    assert failures(result) == ([issue] if action == "fail" else [])
    assert result.report["failed_checks" if action == "fail" else "warned_checks"] == 1
    entry = next(e for e in result.report["checks"] if e["check"] == check)
    assert entry["fired"] is True and entry["message"] == issue.message


@pytest.mark.parametrize("action", ACTIONS)
def test_quarantine_fraction(corpus, action):
    corpus.text("train", "fine", "pos")
    bad = corpus.text("train", "so so", "meh")
    corpus.text("test", "good", "pos")
    result = corpus.validate(CLASSIFICATION, only("quarantine_fraction", action, max_quarantine_fraction=0.4))
    assert_issue(result, "quarantine_fraction", action, "train.txt quarantined 1 of 2", "unknown_label 1", bad.source)
    if action != "off":
        assert "test.txt" not in result.issues[0].message  # 0% is under the limit


@pytest.mark.parametrize("action", ACTIONS)
def test_empty_split(corpus, action):
    corpus.text("train", "fine", "pos")
    corpus.reject("dev")
    corpus.reject("dev")
    result = corpus.validate(CLASSIFICATION, only("empty_split", action))
    assert_issue(result, "empty_split", action, "dev (read 2, quarantined 2)")


@pytest.mark.parametrize("action", ACTIONS)
def test_empty_split_counts_a_configured_file_with_no_records_at_all(corpus, action):
    corpus.text("train", "fine", "pos")
    result = corpus.validate(CLASSIFICATION, only("empty_split", action), splits=["train", "test"])
    assert result.accepted["test"] == []
    assert_issue(result, "empty_split", action, "test (read 0, quarantined 0)")


@pytest.mark.parametrize("action", ACTIONS)
def test_unseen_label(corpus, action):
    corpus.text("train", "fine", "pos")
    unseen = corpus.text("test", "awful", "neg")
    result = corpus.validate(CLASSIFICATION, only("unseen_label", action))
    expected = ("1 dev/test label(s) never seen in train", f"'neg' in 1 record(s), first {unseen.source}")
    assert_issue(result, "unseen_label", action, *expected)


@pytest.mark.parametrize("action", ["fail", "warn"])
def test_unseen_label_with_a_learned_label_set_names_the_label(corpus, action):
    corpus.tagged("train", "Ada Bo", "B-PER B-PER")  # twice: a learned label seen once is a warning of its own
    novel = corpus.tagged("dev", "Paris", "B-LOC")
    result = corpus.validate(task(kind="tagging"), only("unseen_label", action))
    assert corpus.reasons(result) == {novel.source: "tag outside the label set: B-LOC"}
    assert_issue(result, "unseen_label", action, "'B-LOC' in 1 record(s)")


@pytest.mark.parametrize("action", ACTIONS)
def test_train_test_overlap(corpus, action):
    corpus.text("train", "What is a cat ?", "pos")
    corpus.text("train", "Where is it ?", "neg")
    copy = corpus.text("test", "What is a cat ?", "pos")
    corpus.text("test", "Who is she ?", "neg")
    result = corpus.validate(CLASSIFICATION, only("train_test_overlap", action))
    expected = ("1 of 2 test texts also in train", f"{copy.source} 'What is a cat ?'")
    assert_issue(result, "train_test_overlap", action, *expected)


def test_a_clean_corpus_raises_no_issue_with_every_check_failing(corpus):
    corpus.text("train", "fine", "pos")
    corpus.text("train", "awful", "neg")
    corpus.text("dev", "good", "pos")
    corpus.text("test", "bad", "neg")
    strict = ValidationChecks(**{name: "fail" for name in ValidationChecks.model_fields})
    result = corpus.validate(CLASSIFICATION, ValidationConfig(checks=strict))
    assert result.issues == []
    assert [entry["fired"] for entry in result.report["checks"]] == [False] * 6  # 4 checks, 2 warnings


def test_examples_are_capped_at_five(corpus):
    for i in range(8):
        corpus.text("train", f"text {i}", "pos")
        corpus.text("test", f"text {i}", "pos")
    result = corpus.validate(CLASSIFICATION, only("train_test_overlap", "warn"))
    [issue] = result.issues
    assert "8 of 8 test texts" in issue.message
    assert len(issue.examples) == 5
