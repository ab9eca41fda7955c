"""The ingest stage (readers + GX validation + quarantine) on every file of the four real corpora:
read == accepted + quarantined per file, and the counts of each SOURCE.md."""

from __future__ import annotations

import json

import pytest

from mtl.ingest import ingest
from mtl.validation import read_quarantine

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
}


@pytest.fixture(scope="module")
def results(default_params, shared_corpora, tmp_path_factory):
    paths = default_params.paths.model_copy(update={"raw": str(shared_corpora), "interim": str(tmp_path_factory.mktemp("interim"))})
    params = default_params.model_copy(update={"paths": paths})
    return {name: ingest(name, params) for name in params.corpora}


def test_every_file_is_accounted_for(results):
    for name, result in results.items():
        report = json.loads((result.output_dir / "report.json").read_text())
        assert report["read"] == report["accepted"] + report["quarantined"]
        for split, entry in report["splits"].items():
            assert entry["read"] == EXPECTED_READ[(name, split)], (name, split)
            assert entry["read"] == entry["accepted"] + entry["quarantined"], (name, split)
            assert entry["accepted"] == len(result.validation.accepted[split])
        assert len(read_quarantine(result.output_dir / "quarantine.jsonl")) == report["quarantined"]


def test_ewt_words_and_labels(results):
    train = results["ud_english_ewt"].validation.accepted["train"]
    assert sum(len(record.tokens) for record in train) == 204_577  # syntactic words, not surface tokens
    assert all(len(record.tags) == len(record.tokens) for record in train)
    assert len(results["ud_english_ewt"].validation.labels) == 17


def test_trec_coarse_labels_and_the_latin1_line(results):
    trec = results["trec"].validation
    assert trec.labels == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert any("sister\u00f0city" in " ".join(r.tokens) for r in trec.accepted["train"])


def test_overlap_between_train_and_test_is_reported_not_hidden(results):
    issues = {issue.check: issue for issue in results["trec"].validation.issues}
    assert issues["train_test_overlap"].action == "warn"
    assert "What is the largest city in the world ?" in issues["train_test_overlap"].message
