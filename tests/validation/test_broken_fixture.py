"""The committed broken fixture with a tag outside the label set, read by the real CoNLL reader."""

from __future__ import annotations

from pathlib import Path

from mtl.config import ValidationConfig
from mtl.corpora import conll
from mtl.records import Record, Rejection
from mtl.validation import failures, validate_corpus
from tests.validation.conftest import task

ALIEN = Path(__file__).resolve().parents[1] / "fixtures" / "broken" / "conll" / "alien_tag.conll"
NER = task(kind="tagging", scheme="bio", labels=["O", "B-person", "I-person", "B-location", "I-location"])


def test_alien_tag_fixture_is_quarantined_with_its_tag(tmp_path):
    clean = tmp_path / "clean.conll"
    clean.write_text("Ada\tB-person\nwent\tO\n\nParis\tB-location\n", encoding="utf-8")
    options = conll.Options(separator="tab", token_column=0, tag_column=1)
    records: list[Record] = []
    rejections: list[Rejection] = []
    for split, path in (("train", clean), ("test", ALIEN)):
        for item in conll.read(path, options, corpus="broken", task="ner", split=split):
            (records if isinstance(item, Record) else rejections).append(item)

    result = validate_corpus(
        "broken",
        records,
        rejections,
        files=[clean.name, ALIEN.name],
        splits=["train", "test"],
        task_name="ner",
        task=NER,
        config=ValidationConfig(),
    )

    [alien] = result.quarantined
    assert (alien.source, alien.split) == ("broken/alien_tag.conll:1", "test")
    assert alien.reason == "tag outside the label set: B-alien"
    assert alien.raw == "Mars\tB-alien\nattacks\tO"
    assert len(result.accepted["train"]) == 2 and result.accepted["test"] == []
    test = result.report["splits"]["test"]
    assert (test["read"], test["accepted"], test["quarantined"]) == (1, 0, 1)
    assert test["quarantined_by_reason"] == {"unknown_label": 1}
    # a test file that lost every record fails the stage, with a message naming the file
    messages = {issue.check: issue.message for issue in failures(result)}
    assert set(messages) == {"quarantine_fraction", "empty_split"}
    assert "alien_tag.conll quarantined 1 of 1" in messages["quarantine_fraction"]
    assert "B-alien" in messages["quarantine_fraction"]
