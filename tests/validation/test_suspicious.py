"""Warnings: learned labels that look like mistakes, and header lines that look like data."""

from __future__ import annotations

import pytest

from mtl.corpora.lines import Header
from mtl.validation import failures
from tests.validation.conftest import task

LEARNED = task(kind="classification")


def add_labels(corpus, counts: dict[str, int]) -> dict[str, str]:
    """counts[label] train records per label; returns label -> the source of its first record."""
    first = {}
    for label, count in counts.items():
        for i in range(count):
            record = corpus.text("train", f"text {label} {i}", label)
            first.setdefault(label, record.source)
    return first


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"DESC": 20, "HUM": 12, "DESCC": 1}, ["'DESCC': occurs once ({DESCC}), is one edit from 'DESC' (20)"]),
        ({"DESC": 20, "HUM": 12, "ï»¿DESC": 1}, ["'ï»¿DESC': occurs once ({ï»¿DESC})"]),  # a latin-1 BOM
        ({"DESC": 20, "HUM": 12, "DE\u00adSC": 2},
         ["'DE\\xadSC': differs from 'DESC' (20) only by invisible characters"]),
        ({"DESC": 30, "HUM": 12, "DESK": 3}, ["'DESK': is one edit from 'DESC' (30)"]),
        ({"DESC": 20, "DESK": 3}, []),  # DESC is under ten times as frequent: two real classes, maybe
        ({"NUM": 20, "HUM": 19}, []),  # one edit apart, both frequent
    ],
    ids=["typo-once", "latin1-bom", "soft-hyphen", "typo-thrice", "not-frequent-enough", "both-frequent"],
)
def test_a_learned_label_that_looks_like_a_mistake_is_a_warning(corpus, counts: dict, expected: list[str]) -> None:
    """Before, a BOM in the middle of a TREC file made a class "ï»¿DESC", and a typo a class "DESCC", silently."""
    first = add_labels(corpus, counts)
    result = corpus.validate(LEARNED)
    assert result.labels == sorted(counts)  # learned all the same: a warning, never a refusal
    assert result.quarantined == [] and failures(result) == []
    warnings = [issue for issue in result.issues if issue.check == "suspicious_label"]
    if not expected:
        assert warnings == []
        return
    (warning,) = warnings
    assert warning.action == "warn"
    assert warning.examples == [example.format(**first) for example in expected]
    assert warning.message.startswith("toy: suspicious_label: 1 learned label(s) look like mistakes")
    entry = next(e for e in result.report["checks"] if e["check"] == "suspicious_label")
    assert entry == {"check": "suspicious_label", "action": "warn", "fired": True, "message": warning.message}
    assert result.report["warned_checks"] == 1


def test_a_configured_label_set_stays_strict_and_silent(corpus) -> None:
    add_labels(corpus, {"DESC": 20, "DESCC": 1})
    result = corpus.validate(task(kind="classification", labels=["DESC"]))
    assert [rejection.key for rejection in result.quarantined] == ["unknown_label"]
    assert [issue.check for issue in result.issues] == []


@pytest.mark.parametrize(
    ("kind", "fields", "fires"),
    [
        (task(kind="classification", labels=["negative", "positive"]), {"tokens": ["a", "film"], "label": "positive"},
         "its label 'positive' is a known label"),
        (task(kind="classification", labels=["negative", "positive"]), {"tokens": ["sentence"], "label": "label"}, ""),
        (task(kind="regression", texts=1), {"tokens": ["a", "film"], "label": "4.5"}, "its cells parse"),
        (task(kind="regression", texts=1), {"tokens": ["sentence"], "label": "score"}, ""),
        (task(kind="classification", labels=["negative", "positive"]), None, ""),  # label_map did not know it
    ],
    ids=["known-label", "column-names", "a-number", "a-name", "not-a-record"],
)
def test_a_header_line_that_reads_as_a_record_is_a_warning(corpus, kind, fields, fires: str) -> None:
    """Before, a file without a header read with header: true lost its first row silently (7,599 of 7,600)."""
    for label in ("4.0", "1.0") if kind.kind == "regression" else ("positive", "negative"):
        corpus.text("train", "some text", label)
    corpus.headers.append(Header("toy/train.txt:1", "raw header", fields))
    result = corpus.validate(kind)
    warnings = [issue for issue in result.issues if issue.check == "header_looks_like_data"]
    assert result.report["files"]["train.txt"]["header"] == {"line": 1, "text": "raw header"}  # accounted for
    if not fires:
        assert warnings == []
        return
    (warning,) = warnings
    assert warning.action == "warn" and failures(result) == []
    assert warning.examples == [f"train.txt line 1 'raw header' reads as a record ({fires})"]
    assert "a file without a header loses its first row to header: true" in warning.message
