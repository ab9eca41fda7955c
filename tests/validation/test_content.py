"""Characters no record may hold (control characters, U+FEFF, lone surrogates): quarantined with a key, so that
whatever validation accepts can be written to Parquet, and whatever it refuses to the quarantine file."""

from __future__ import annotations

import pytest

from mtl.ingest import record_schema, write_records
from mtl.tasks import get_kind
from mtl.validation import read_quarantine, write_quarantine
from tests.validation.conftest import task

PAIRS = task(kind="pair_classification", labels=["yes", "no"])


@pytest.mark.parametrize(
    ("fields", "key", "reason"),
    [
        ({"tokens": ["a\x00b", "c"]}, "control_character", "control character U+0000 in tokens[0] 'a\\x00b'"),
        ({"tokens": ["a", "b\x1bc"]}, "control_character", "control character U+001B in tokens[1] 'b\\x1bc'"),
        ({"tokens": ["a", "b\nc"]}, "control_character", "control character U+000A in tokens[1] 'b\\nc'"),
        ({"tokens_b": ["\ufeffx"]}, "byte_order_mark", "byte order mark (U+FEFF) U+FEFF in tokens_b[0] '\\ufeffx'"),
        ({"tokens": ["\ud800"]}, "lone_surrogate",
         "lone surrogate U+D800 in tokens[0] '\\ud800': not encodable as UTF-8"),
        ({"label": "yes\x00"}, "control_character", "control character U+0000 in label 'yes\\x00'"),
    ],
    ids=["nul", "escape", "line-feed", "bom-in-the-second-text", "lone-surrogate", "nul-in-the-label"],
)
def test_a_bad_character_anywhere_in_a_record_quarantines_it(corpus, fields: dict, key: str, reason: str) -> None:
    """Before, NUL and U+FEFF inside tokens were accepted by every reader, and a lone surrogate reached the
    Parquet write, which crashed with no report written."""
    corpus.add("train", {"tokens": ["fine"], "tokens_b": ["good"], "label": "yes"})
    bad = corpus.add("train", {"tokens": ["a", "b"], "tokens_b": ["c"], "label": "no", **fields})
    result = corpus.validate(PAIRS)
    (rejection,) = result.quarantined
    assert (rejection.source, rejection.key) == (bad.source, key)
    assert rejection.reason.split("; ")[0] == reason
    assert result.report["quarantined_by_reason"] == {key: 1}


def test_tabs_and_other_characters_pass(corpus) -> None:
    tokens = ["a\tb", "naïve", "❤️", "\u200b", "\x7f"]  # a tab; not C0 controls, not U+FEFF
    kept = corpus.add("train", {"tokens": tokens, "tokens_b": ["c"], "label": "yes"})
    assert corpus.validate(PAIRS).accepted["train"] == [kept]


def test_what_validation_accepts_writes_to_parquet_and_what_it_refuses_to_the_quarantine(corpus, tmp_path) -> None:
    for tokens in (["ok"], ["a\x00"], ["\ud800"], ["\udfff", "x\ufeff"], ["b\x01"]):
        corpus.add("train", {"tokens": tokens, "tokens_b": ["\ud83d"], "label": "yes"})
    corpus.add("train", {"tokens": ["fine"], "tokens_b": ["well"], "label": "no\ud800"})
    corpus.add("train", {"tokens": ["fine"], "tokens_b": ["well"], "label": "no"})
    result = corpus.validate(PAIRS)
    assert [record.fields["tokens"] for record in result.accepted["train"]] == [["fine"]]
    write_records(tmp_path / "records.parquet", result.accepted, record_schema(get_kind(PAIRS.kind), PAIRS))
    assert write_quarantine(tmp_path / "quarantine.jsonl", result.quarantined) == 6
    assert read_quarantine(tmp_path / "quarantine.jsonl") == result.quarantined


def test_a_label_holding_a_bad_character_is_not_learned(corpus) -> None:
    corpus.text("train", "fine", "pos")
    corpus.text("train", "good", "pos")
    corpus.text("train", "odd", "pos\x00")
    result = corpus.validate(task(kind="classification"))
    assert result.labels == ["pos"]
    assert [rejection.key for rejection in result.quarantined] == ["control_character"]
