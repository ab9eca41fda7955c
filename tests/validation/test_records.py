"""Record-level expectations: which records are quarantined, and why."""

from __future__ import annotations

import json

import pytest

from mtl.config import ValidationChecks, ValidationConfig
from mtl.records import Record
from mtl.validation import AccountingError
from tests.validation.conftest import task

TAGGING = task(kind="tagging", labels=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
CLASSIFICATION = task(kind="classification", labels=["pos", "neg"])
OFF = ValidationChecks(quarantine_fraction="off", empty_split="off", unseen_label="off", train_test_overlap="off")


def test_clean_records_are_all_accepted(corpus):
    good = corpus.tagged("train", "Ada went home", "B-PER O O")
    result = corpus.validate(TAGGING)
    assert result.accepted == {"train": [good]}
    assert result.quarantined == []
    assert result.report["suite"]["success"] is True


def test_tag_outside_the_label_set_is_quarantined_with_the_tag(corpus):
    corpus.tagged("train", "Ada went home", "B-PER O O")
    alien = corpus.tagged("train", "Mars attacks", "B-alien O")
    result = corpus.validate(TAGGING)
    assert corpus.reasons(result) == {alien.source: "tag outside the label set: B-alien"}
    assert [r.uid for r in result.quarantined] == [alien.uid]
    assert result.quarantined[0].raw == "Mars attacks"
    assert result.report["quarantined_by_reason"] == {"unknown_label": 1}


def test_n_tags_different_from_n_tokens_is_quarantined(corpus):
    short = corpus.tagged("train", "Ada went home", "B-PER O")
    result = corpus.validate(TAGGING)
    assert corpus.reasons(result) == {short.source: "n_tags != n_tokens: 2 vs 3"}
    assert result.report["splits"]["train"]["quarantined_by_reason"] == {"n_tags_mismatch": 1}


def test_empty_tokens_are_quarantined(corpus):
    corpus.tagged("train", "Ada", "B-PER")
    empty = corpus.tagged("train", [], [])
    blank = corpus.tagged("train", ["Ada", " "], ["B-PER", "O"])
    result = corpus.validate(TAGGING)
    assert corpus.reasons(result) == {
        empty.source: "empty: no tokens",
        blank.source: "blank token: 1 empty or whitespace tokens",
    }


def test_too_long_and_too_short_are_quarantined(corpus):
    corpus.text("train", "just right here", "pos")
    long = corpus.text("train", "one two three four five", "neg")
    short = corpus.text("train", "one", "neg")
    result = corpus.validate(CLASSIFICATION, ValidationConfig(min_tokens=2, max_tokens=4, checks=OFF))
    assert corpus.reasons(result) == {
        long.source: "too long: 5 tokens > max_tokens 4",
        short.source: "too short: 1 tokens < min_tokens 2",
    }
    assert result.report["quarantined_by_reason"] == {"too_long": 1, "too_short": 1}


@pytest.mark.parametrize("chunk", [None, 1])
def test_a_uid_an_earlier_record_had_is_quarantined(corpus, chunk):
    first = corpus.text("train", "a b", "pos", uid="same")
    second = corpus.text("train", "c d", "neg", uid="same")
    third = corpus.text("test", "g h", "neg", uid="same")
    kept = corpus.text("train", "e f", "neg")
    result = corpus.validate(CLASSIFICATION, chunk_records=chunk)
    # ingest streams: the first copy was written before the second was read, so it stays; every later copy is
    # quarantined, whether in the same chunk or a later one, and in another split too
    assert corpus.reasons(result) == {second.source: "duplicate uid: same", third.source: "duplicate uid: same"}
    assert result.accepted == {"train": [first, kept], "test": []}


def test_classification_label_missing_or_unknown(corpus):
    corpus.text("train", "fine", "pos")
    missing = corpus.text("train", "no label here", None)
    odd = corpus.text("train", "odd one", "meh")
    result = corpus.validate(CLASSIFICATION)
    # a record without the field its kind needs is refused by the kind's parse, with the kind's key
    assert corpus.reasons(result) == {missing.source: "no label: a classification task needs one",
                                      odd.source: "label outside the label set: meh"}
    assert corpus.keys(result) == {missing.source: "missing_label", odd.source: "unknown_label"}


def test_a_record_failing_several_expectations_lists_every_reason(corpus):
    bad = corpus.tagged("train", "Mars attacks again", "B-alien O")
    result = corpus.validate(TAGGING, ValidationConfig(max_tokens=2, checks=OFF))
    assert corpus.reasons(result) == {
        bad.source: "too long: 3 tokens > max_tokens 2; n_tags != n_tokens: 2 vs 3; tag outside the label set: B-alien"
    }
    assert result.report["quarantined_by_reason"] == {"too_long": 1}  # counted once, by its first reason


def test_labels_are_learned_from_train_when_not_configured(corpus):
    corpus.text("train", "how far", "NUM")
    corpus.text("train", "who is", "HUM")
    novel = corpus.text("test", "what is", "ENTY")
    result = corpus.validate(task(kind="classification"))
    assert result.labels == ["HUM", "NUM"]
    assert result.report["labels"] == 2 and result.report["labels_learned"] is True
    assert corpus.reasons(result) == {novel.source: "label outside the label set: ENTY"}


def test_configured_labels_are_used_as_given(corpus):
    corpus.tagged("train", "Ada", "B-PER")
    result = corpus.validate(TAGGING)
    assert result.labels == TAGGING.labels
    assert result.report["labels_learned"] is False


def test_read_equals_accepted_plus_quarantined_per_file(corpus):
    corpus.tagged("train", "Ada went home", "B-PER O O")
    corpus.tagged("train", "Mars attacks", "B-alien O")
    corpus.reject("train")
    corpus.tagged("dev", "Bo", "B-PER")
    corpus.reject("dev", "line 3: expected at least 2 columns, found 1", key="column_count")
    result = corpus.validate(TAGGING)
    report = result.report
    for split, entry in report["splits"].items():
        assert entry["read"] == entry["accepted"] + entry["quarantined"], split
        assert entry["accepted"] == len(result.accepted[split])
        assert sum(entry["quarantined_by_reason"].values()) == entry["quarantined"]
    assert report["splits"]["train"] == {
        "files": ["train.txt"],
        "read": 3,
        "accepted": 1,
        "quarantined": 2,
        "quarantined_fraction": pytest.approx(2 / 3, abs=1e-6),
        "quarantined_by_reason": {"decode_error": 1, "unknown_label": 1},
    }
    assert report["splits"]["dev"]["quarantined_by_reason"] == {"column_count": 1}
    assert (report["read"], report["accepted"], report["quarantined"]) == (5, 2, 3)
    assert len(result.quarantined) == 3  # the readers' rejections are kept, first
    assert result.quarantined[0].reason.startswith("line 1: invalid utf-8")


def test_records_of_a_split_without_a_file_are_an_accounting_error(corpus):
    corpus.tagged("train", "Ada", "B-PER")
    corpus.tagged("dev", "Bo", "B-PER")
    with pytest.raises(AccountingError, match=r"split\(s\) \['dev'\] not among \['train'\]"):
        corpus.validate(TAGGING, splits=["train"])


def test_report_is_json_ready_and_summarises_the_suite(corpus):
    corpus.tagged("train", "Ada went home", "B-PER O O")
    corpus.tagged("train", "Mars attacks", "B-alien O")
    report = corpus.validate(TAGGING).report
    assert json.loads(json.dumps(report)) == report
    tag_check = next(e for e in report["suite"]["expectations"] if e["column"] == "unknown_tags")
    assert tag_check == {
        "expectation": "expect_column_values_to_be_in_set",
        "column": "unknown_tags",
        "reason": "unknown_label",
        "success": False,
        "unexpected_count": 1,
    }
    assert {e["column"] for e in report["suite"]["expectations"]} >= {"n_tokens", "duplicate_uid", "n_tags,n_tokens"}
