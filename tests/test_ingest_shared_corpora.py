"""The ingest stage (readers + GX validation + quarantine) on every file of the real corpora: read == accepted +
quarantined per file and per split, the counts of each SOURCE.md, and each quirk of SICK's."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mtl.ingest import KEY_COLUMNS, ingest
from mtl.records import Record, Rejection
from mtl.validation import ValidationSummary, read_quarantine

EXPECTED_READ = {
    ("ud_english_ewt", "train"): 12_544,
    ("ud_english_ewt", "dev"): 2_001,
    ("ud_english_ewt", "test"): 2_077,
    ("wnut17", "train"): 3_394,
    ("wnut17", "dev"): 1_009,
    ("wnut17", "test"): 1_287,
    ("sst2", "train"): 67_349,
    ("sst2", "dev"): 872,
    ("sst2", "test"): 1_821,
    ("trec", "train"): 5_452,
    ("trec", "test"): 500,
    # SICK (SOURCE.md): one file, its SemEval_set column TRAIN / TRIAL / TEST -> train / dev / test
    **{(corpus, split): count for corpus in ("sick_entailment", "sick_relatedness")
       for split, count in (("train", 4_439), ("dev", 495), ("test", 4_906))},
}
SICK_LABELS = {  # SOURCE.md: ENTAILMENT, NEUTRAL, CONTRADICTION per SemEval_set
    "train": {"ENTAILMENT": 1_274, "NEUTRAL": 2_524, "CONTRADICTION": 641},
    "dev": {"ENTAILMENT": 143, "NEUTRAL": 281, "CONTRADICTION": 71},
    "test": {"ENTAILMENT": 1_404, "NEUTRAL": 2_790, "CONTRADICTION": 712},
}
SICK_MEAN = {"train": "3.516", "dev": "3.591", "test": "3.528"}  # SOURCE.md, to 3 decimals


@dataclass(frozen=True)
class Ingested:
    output_dir: Path
    validation: ValidationSummary
    accepted: dict[str, list[Record]]  # read back from the Parquet shards; raw is the source line's text
    quarantined: list[Rejection]  # read back from quarantine.jsonl


def read_back(result, raw_folder: Path) -> Ingested:
    """What one ingest wrote, as records again: the shards' rows, each with its source line as raw text."""
    lines: dict[str, list[str]] = {}
    accepted: dict[str, list[Record]] = {split: [] for split in result.validation.report["splits"]}
    for row in pq.read_table(result.output_dir / "records").to_pylist():
        file, line = row["source"].split("/", 1)[1].rsplit(":", 1)
        if file not in lines:
            lines[file] = (raw_folder / file).read_bytes().decode("utf-8", "replace").splitlines()
        fields = {name: value for name, value in row.items() if name not in dict(KEY_COLUMNS)}
        accepted[row["split"]].append(Record(row["uid"], row["task"], row["split"], fields, row["source"],
                                             lines[file][int(line) - 1]))
    return Ingested(result.output_dir, result.validation, accepted,
                    read_quarantine(result.output_dir / "quarantine.jsonl"))


@pytest.fixture(scope="module")
def results(default_params, shared_corpora, tmp_path_factory):
    """Every corpus ingested once: raw/<corpus> is its mirror folder (SICK's two corpora share one)."""
    raw = tmp_path_factory.mktemp("raw")
    for name, corpus in default_params.corpora.items():
        (raw / name).symlink_to(shared_corpora / (corpus.mirror_name or name))
    interim = tmp_path_factory.mktemp("interim")
    paths = default_params.paths.model_copy(update={"raw": str(raw), "interim": str(interim)})
    params = default_params.model_copy(update={"paths": paths})
    return {name: read_back(ingest(name, params), raw / name) for name in params.corpora}


def test_every_file_and_split_is_accounted_for(results):
    for name, result in results.items():
        report = json.loads((result.output_dir / "report.json").read_text())
        assert report["read"] == report["accepted"] + report["quarantined"]
        for split, entry in report["splits"].items():
            assert entry["read"] == EXPECTED_READ[(name, split)], (name, split)
            assert entry["read"] == entry["accepted"] + entry["quarantined"], (name, split)
            assert entry["accepted"] == len(result.accepted[split])
        for file, entry in report["files"].items():
            assert entry["read"] == entry["accepted"] + entry["quarantined"], (name, file)
            for split, cell in entry["splits"].items():
                assert cell["read"] == cell["accepted"] + cell["quarantined"], (name, file, split)
        assert len(read_quarantine(result.output_dir / "quarantine.jsonl")) == report["quarantined"]


def test_ewt_words_and_labels(results):
    train = results["ud_english_ewt"].accepted["train"]
    assert sum(len(record.tokens) for record in train) == 204_577  # syntactic words, not surface tokens
    assert all(len(record.fields["tags"]) == len(record.tokens) for record in train)
    assert len(results["ud_english_ewt"].validation.labels) == 17


def test_wnut_dev_loses_only_the_sentence_with_a_bom_inside_a_token(results):
    (rejection,) = results["wnut17"].quarantined
    assert (rejection.source, rejection.split, rejection.key) == ("wnut17/emerging.dev.conll:16728", "dev",
                                                                   "byte_order_mark")


def test_trec_coarse_labels_and_the_latin1_line(results):
    trec = results["trec"]
    assert trec.validation.labels == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert any("sister\u00f0city" in " ".join(r.tokens) for r in trec.accepted["train"])
    assert [issue.check for issue in trec.validation.issues if issue.check == "suspicious_label"] == []  # no false alarm


def test_overlap_between_train_and_test_is_reported_not_hidden(results):
    issues = {issue.check: issue for issue in results["trec"].validation.issues}
    assert issues["train_test_overlap"].action == "warn"
    assert "What is the largest city in the world ?" in issues["train_test_overlap"].message


def test_header_lines_are_in_the_report_and_none_looks_like_data(results):
    report = results["sst2"].validation.report
    assert report["files"]["train.tsv"]["header"] == {"line": 1, "text": "sentence\tlabel"}
    assert "header" not in report["files"]["sentiment-test"]  # header: false
    for result in results.values():
        assert [issue for issue in result.validation.issues if issue.check == "header_looks_like_data"] == []


# --- SICK: each quirk of its SOURCE.md ----------------------------------------------------------------------


@pytest.mark.parametrize("corpus", ["sick_entailment", "sick_relatedness"])
def test_sick_one_file_feeds_three_splits_and_nothing_is_lost(results, corpus):
    """Per split and per file: read == accepted + quarantined, with SOURCE.md's counts and nothing quarantined."""
    report = results[corpus].validation.report
    counts = {split: (entry["read"], entry["accepted"], entry["quarantined"])
              for split, entry in report["splits"].items()}
    assert counts == {"train": (4_439, 4_439, 0), "dev": (495, 495, 0), "test": (4_906, 4_906, 0)}
    (entry,) = report["files"].values()
    assert (entry["read"], entry["accepted"], entry["quarantined"]) == (9_840, 9_840, 0)
    assert entry["splits"] == {split: {"read": n, "accepted": n, "quarantined": 0}
                               for split, n in (("dev", 495), ("test", 4_906), ("train", 4_439))}
    assert entry["header"]["line"] == 1 and entry["header"]["text"].endswith("\tSemEval_set")


def test_sick_crlf_line_ends_reach_no_field(results, shared_corpora):
    """Every line but the last ends in CRLF, so a reader splitting on LF alone would see "TRAIN\\r" in the split
    column (and "4.5\\r" nowhere, the score not being last): every row still finds its split."""
    data = (shared_corpora / "sick" / "SICK.txt").read_bytes()
    lines = data.split(b"\n")
    assert data.count(b"\r\n") == len(lines) - 1 == 9_840
    split_cells = Counter(line.split(b"\t")[-1] for line in lines[1:])
    assert split_cells == {b"TRAIN\r": 4_438, b"TRIAL\r": 495, b"TEST\r": 4_906, b"TRAIN": 1}
    for split, records in results["sick_entailment"].accepted.items():
        for record in records:
            assert not any("\r" in token for token in record.tokens + record.fields["tokens_b"])
            assert "\r" not in record.fields["label"]


def test_sick_last_line_without_a_line_end_is_read(results, shared_corpora):
    assert not (shared_corpora / "sick" / "SICK.txt").read_bytes().endswith(b"\n")
    last = results["sick_relatedness"].accepted["train"][-1]
    assert last.source == "sick_relatedness/SICK.txt:9841"
    assert last.raw.endswith("\tTRAIN") and last.fields["score"] == float(last.raw.split("\t")[4])


def test_sick_entailment_label_distribution(results):
    accepted = results["sick_entailment"].accepted
    assert {split: dict(Counter(r.fields["label"] for r in records)) for split, records in accepted.items()} \
        == SICK_LABELS


def test_sick_relatedness_scores(results):
    """Scores in [1, 5], 173 distinct values, and SOURCE.md's means, computed exactly from the file's decimals."""
    accepted = results["sick_relatedness"].accepted
    scores = {split: [Decimal(r.raw.split("\t")[4]) for r in records] for split, records in accepted.items()}
    assert len({score for split in scores.values() for score in split}) == 173
    assert all(Decimal(1) <= score <= Decimal(5) for split in scores.values() for score in split)
    assert {split: str((sum(values) / len(values)).quantize(Decimal("0.001"))) for split, values in scores.items()} \
        == SICK_MEAN
    assert all(r.fields["score"] == float(r.raw.split("\t")[4]) for records in accepted.values() for r in records)


def test_sick_pairs_share_sentences_across_splits_but_never_repeat(results):
    """By design most TEST pairs share a sentence with a TRAIN pair; the overlap check judges the pair."""
    issues = {issue.check: issue for issue in results["sick_entailment"].validation.issues}
    assert "train_test_overlap" not in issues
    assert max(len(r.tokens) for records in results["sick_entailment"].accepted.values()
               for r in records) <= 32
