"""A realistic size frame, to catch pathological slowness (no timing assertion: just run it)."""

from __future__ import annotations

import random

from mtl.config import ValidationConfig
from mtl.records import Record, make_uid
from tests.validation.conftest import task

WORDS = [f"w{i}" for i in range(2000)]
TAGS = ["O", "B-PER", "I-PER"]


def synthetic(split: str, n: int, rng: random.Random) -> list[Record]:
    records = []
    for i in range(n):
        tokens = rng.choices(WORDS, k=rng.randint(0, 40))  # 1 in 41 is empty
        tags = rng.choices(TAGS, k=len(tokens))
        if i % 100 == 0 and tags:
            tags[0] = "B-alien"
        source = f"big/{split}.txt:{i + 1}"
        uid = make_uid("big", split, source)
        records.append(Record(uid, "ner", split, {"tokens": tokens, "tags": tags}, source, " ".join(tokens)))
    return records


def test_twenty_thousand_records_with_many_failures():
    from mtl.validation import validate_corpus

    rng = random.Random(7)
    records = {"train": synthetic("train", 18_000, rng), "test": synthetic("test", 2_000, rng)}
    result = validate_corpus(
        "big",
        records["train"] + records["test"],
        [],
        files=["train.txt", "test.txt"],
        splits=["train", "test"],
        task_name="ner",
        task=task(kind="tagging", labels=TAGS),
        config=ValidationConfig(max_tokens=35),
    )
    report = result.report
    assert report["read"] == 20_000 == report["accepted"] + report["quarantined"]
    # far more failures than GX's 200-value cap on unexpected_list: every one must still be found
    expected = {
        record.source
        for split_records in records.values()
        for record in split_records
        if not record.tokens or len(record.tokens) > 35 or "B-alien" in record.fields["tags"]
    }
    assert len(expected) > 1000
    assert {rejection.source for rejection in result.quarantined} == expected
    alien = [r for r in result.quarantined if "tag outside the label set: B-alien" in r.reason]
    assert len(alien) == sum("B-alien" in r.fields["tags"] for split in records.values() for r in split)
    assert {"quarantine_fraction", "unseen_label"} <= {issue.check for issue in result.issues}  # B-alien is in test


def test_chunks_of_any_size_give_the_same_verdicts():
    """The same records validated in one chunk and in chunks of 997: the same quarantine (entries and order), the
    same accepted records and the same report, the batch checks included."""
    from mtl.validation import validate_corpus

    rng = random.Random(11)
    records = synthetic("train", 2_500, rng) + synthetic("test", 500, rng)
    next(record for record in records[1_500:] if record.fields["tags"]).fields["tags"][0] = "B-PERR"  # once: suspicious
    results = [validate_corpus("big", records, [], files=["train.txt", "test.txt"], splits=["train", "test"],
                               task_name="ner", task=task(kind="tagging"), config=ValidationConfig(max_tokens=35),
                               chunk_records=chunk) for chunk in (None, 997)]
    whole, chunked = results
    assert chunked.quarantined == whole.quarantined and chunked.accepted == whole.accepted
    assert chunked.report == whole.report and chunked.labels == whole.labels
    assert {issue.check for issue in whole.issues} >= {"quarantine_fraction", "suspicious_label"}  # learned labels
