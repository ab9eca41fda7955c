"""The quarantine file and the categories of reasons."""

from __future__ import annotations

import json

import pytest

from mtl.config import TaskConfig
from mtl.records import Rejection
from mtl.validation import read_quarantine, reason_category, write_quarantine


def test_quarantine_file_round_trips(tmp_path, corpus):
    corpus.tagged("train", "Ada", "B-PER")
    corpus.tagged("train", "Mars attacks", "B-alien O")
    corpus.reject("train", 'line 2: invalid utf-8 byte 0xFF at column 3 "quoted" \t tab')
    corpus.tagged("train", ["naïve", "café"], ["O"])  # non-ASCII raw text
    result = corpus.validate(TaskConfig(kind="tagging", labels=["O", "B-PER"]))
    path = tmp_path / "toy" / "quarantine.jsonl"

    assert write_quarantine(path, result.quarantined) == len(result.quarantined) == 3
    assert read_quarantine(path) == result.quarantined
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    entry = json.loads(lines[-1])
    assert list(entry) == ["source", "split", "uid", "reason", "raw"]
    assert entry["raw"] == "naïve café" and entry["uid"]


def test_an_empty_quarantine_writes_an_empty_file(tmp_path):
    path = tmp_path / "quarantine.jsonl"
    assert write_quarantine(path, []) == 0
    assert path.read_text() == ""
    assert read_quarantine(path) == []


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        ("tag outside the label set: B-alien", "unknown_label"),
        ("label outside the label set: meh", "unknown_label"),
        ("n_tags != n_tokens: 2 vs 3", "n_tags_mismatch"),
        ("empty: no tokens", "empty"),
        ("too long: 600 tokens > max_tokens 512", "too_long"),
        ("duplicate uid: abc", "duplicate_uid"),
        ("line 4: invalid latin-1 byte 0x81 at column 2", "decode_error"),
        ("line of 2000000 bytes exceeds max_line_bytes=1000000", "line_too_long"),
        ("line 9: expected 10 tab-separated columns, found 3", "column_count"),
        ("line 9: empty FORM or UPOS column", "empty_field"),
        ("sentence has no words", "empty"),
        ("Something Else: entirely new", "something_else"),
    ],
)
def test_reason_categories(reason, category):
    assert reason_category(reason) == category


def test_rejections_compare_by_value():
    # read_quarantine's round trip relies on Rejection being a plain dataclass
    assert Rejection("a:1", "train", "x", "r", "u") == Rejection("a:1", "train", "x", "r", "u")
