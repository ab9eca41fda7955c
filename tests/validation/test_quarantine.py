"""The quarantine file: every refused unit, written so it can always be written and read back."""

from __future__ import annotations

import json

from mtl.records import Rejection
from mtl.validation import read_quarantine, write_quarantine
from tests.validation.conftest import task


def test_quarantine_file_round_trips(tmp_path, corpus):
    corpus.tagged("train", "Ada", "B-PER")
    corpus.tagged("train", "Mars attacks", "B-alien O")
    corpus.reject("train", 'line 2: invalid utf-8 byte 0xFF at column 3 "quoted" \t tab')
    corpus.tagged("train", ["naïve", "café"], ["O"])  # non-ASCII raw text
    result = corpus.validate(task(kind="tagging", labels=["O", "B-PER"]))
    path = tmp_path / "toy" / "quarantine.jsonl"

    assert write_quarantine(path, result.quarantined) == len(result.quarantined) == 3
    assert read_quarantine(path) == result.quarantined
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    entry = json.loads(lines[-1])
    assert list(entry) == ["source", "split", "uid", "key", "reason", "raw"]
    assert entry["raw"] == "naïve café" and entry["uid"] and entry["key"] == "n_tags_mismatch"
    assert "naïve café" in lines[-1]  # written as itself, not as \u escapes


def test_an_empty_quarantine_writes_an_empty_file(tmp_path):
    path = tmp_path / "quarantine.jsonl"
    assert write_quarantine(path, []) == 0
    assert path.read_text() == ""
    assert read_quarantine(path) == []


def test_rejections_compare_by_value():
    # read_quarantine's round trip relies on Rejection being a plain dataclass
    assert Rejection("a:1", "train", "x", "r", "u", "k") == Rejection("a:1", "train", "x", "r", "u", "k")


def test_a_lone_surrogate_is_quarantined_and_the_quarantine_still_written(tmp_path, corpus):
    """A JSON escape ("\\ud800") can put a lone surrogate in a label; before, the record's reasons carried it and
    writing the quarantine (ensure_ascii=False into a UTF-8 file) crashed, so no report was written."""
    corpus.text("train", "fine", "pos")
    odd = corpus.text("train", "odd one", "pos\ud800")
    result = corpus.validate(task(kind="classification", labels=["pos"]))
    assert corpus.keys(result) == {odd.source: "lone_surrogate"}
    path = tmp_path / "quarantine.jsonl"
    assert write_quarantine(path, result.quarantined) == 1
    assert read_quarantine(path) == result.quarantined


def test_an_entry_utf8_cannot_encode_is_written_escaped_and_reads_back_the_same(tmp_path):
    """Whatever a reader or a kind puts in a rejection, the quarantine file can hold it: such an entry is written
    with JSON escapes, the others as themselves."""
    odd = Rejection("c/f.jsonl:1", "train", '{"label": "\ud800"}', "label \ud800 is odd", "u1", "other")
    plain = Rejection("c/f.jsonl:2", "train", "naïve", "label naïve is odd", "u2", "other")
    path = tmp_path / "quarantine.jsonl"
    assert write_quarantine(path, [odd, plain]) == 2
    assert read_quarantine(path) == [odd, plain]
    first, second = path.read_text(encoding="utf-8").splitlines()
    assert "\\ud800" in first and "naïve" in second
