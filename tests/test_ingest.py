"""The ingest stage on small corpora written by each test: what reaches records/ (Parquet shards), quarantine.jsonl and
report.json for scores, pairs and numeric labels, header lines, and files that cannot be read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mtl.config import CorpusConfig, Params
from mtl.corpora.lines import ReaderError
from mtl.ingest import IngestFailed, ingest
from mtl.validation import read_quarantine


def params_with(default_params: Params, tmp_path: Path, name: str, corpus: dict, files: dict[str, bytes]) -> Params:
    """The default params with one more corpus, `name`, whose files are written under tmp_path/raw/name."""
    folder = tmp_path / "raw" / name
    folder.mkdir(parents=True)
    for file, data in files.items():
        (folder / file).write_bytes(data)
    corpus["files"] = {key: {**entry, "sha256": hashlib.sha256(files[entry["path"]]).hexdigest()}
                       for key, entry in corpus["files"].items()}
    paths = default_params.paths.model_copy(update={"raw": str(tmp_path / "raw"), "interim": str(tmp_path / "interim")})
    corpora = {**default_params.corpora, name: CorpusConfig.model_validate(corpus)}
    return default_params.model_copy(update={"paths": paths, "corpora": corpora})


def test_scores_that_are_not_numbers_are_quarantined_with_a_clear_reason(default_params, tmp_path) -> None:
    """A regression task reads the label column as its score: "n/a" and "inf" are not_a_number, 7.5 is outside
    the configured range, and the split column feeds two splits from one file."""
    data = ("A\tB\tscore\tset\r\n"
            "a dog runs\ta dog moves\t4.5\tTRAIN\r\n"
            "a cat\tno cat\tn/a\tTRAIN\r\n"
            "a man\ta man\t7.5\tTRAIN\r\n"
            "x\ty\tinf\tTEST\r\n"
            "a girl\ta boy\t1\tTEST")
    corpus = {"task": "relatedness", "format": "delimited",
              "options": {"text_column": "A", "text_b_column": "B", "label_column": "score", "split_column": "set",
                          "split_map": {"TRAIN": "train", "TEST": "test"}},
              "files": {"all": {"path": "pairs.tsv"}}}
    params = params_with(default_params, tmp_path, "toy_scores", corpus, {"pairs.tsv": data.encode()})
    params = params.model_copy(update={"validation": params.validation.model_copy(
        update={"checks": params.validation.checks.model_copy(update={"quarantine_fraction": "warn"})})})
    result = ingest("toy_scores", params)

    quarantine = {r.source.rsplit(":", 1)[1]: (r.split, r.key, r.reason)
                  for r in read_quarantine(result.output_dir / "quarantine.jsonl")}
    assert quarantine == {
        "3": ("train", "not_a_number", "score 'n/a' is not a number"),
        "4": ("train", "score_out_of_range", "score 7.5 outside the range [1, 5]"),
        "5": ("test", "not_a_number", "score 'inf' is not a finite number"),
    }
    table = pq.read_table(result.output_dir / "records").to_pylist()
    assert [(row["split"], row["tokens"], row["tokens_b"], row["score"]) for row in table] == [  # train first
        ("train", ["a", "dog", "runs"], ["a", "dog", "moves"], 4.5), ("test", ["a", "girl"], ["a", "boy"], 1.0)]
    report = json.loads((result.output_dir / "report.json").read_text())
    assert {split: (e["read"], e["accepted"], e["quarantined"]) for split, e in report["splits"].items()} == {
        "train": (3, 1, 2), "test": (2, 1, 1)}
    assert report["files"]["pairs.tsv"]["header"] == {"line": 1, "text": "A\tB\tscore\tset"}


def test_jsonl_pairs_and_numeric_labels(default_params, tmp_path) -> None:
    lines = [{"text": "A man plays.", "text_b": "Someone plays.", "label": 4.5},
             {"tokens": ["A", "dog"], "tokens_b": ["An", "animal"], "label": 2},
             {"text": "A man", "text_b": "A woman", "label": True},
             {"text": "A man", "label": 3.0}]
    corpus = {"task": "relatedness", "format": "jsonl", "files": {"train": {"path": "train.jsonl"}}}
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    params = params_with(default_params, tmp_path, "toy_jsonl", corpus, {"train.jsonl": data})
    with pytest.raises(IngestFailed, match="quarantine_fraction"):  # 2 of 4 refused: the stage fails, files written
        ingest("toy_jsonl", params)
    folder = tmp_path / "interim" / "toy_jsonl"
    rows = pq.read_table(folder / "records").to_pylist()
    assert [(row["tokens"], row["tokens_b"], row["score"]) for row in rows] == [
        (["A", "man", "plays", "."], ["Someone", "plays", "."], 4.5), (["A", "dog"], ["An", "animal"], 2.0)]
    assert [(r.key, r.reason) for r in read_quarantine(folder / "quarantine.jsonl")] == [
        ("bad_json", "field 'label' must be a non-empty string or a number, found a boolean"),
        ("missing_tokens_b", "no tokens_b: a regression task needs one (check the corpus's options)"),
    ]


def test_a_file_without_a_header_read_with_one_is_a_warning_naming_it(default_params, tmp_path) -> None:
    """Before, its first row vanished silently (7,599 of 7,600 read); now the report holds it and a warning
    names the file."""
    data = "".join(f"{label}\tWhat is thing {i} ?\n" for i, label in enumerate(["DESC", "HUM"] * 10)).encode()
    corpus = {"task": "question", "format": "delimited", "options": {"text_column": 1, "label_column": 0},
              "files": {"train": {"path": "q.tsv"}, "test": {"path": "q_test.tsv"}}}
    params = params_with(default_params, tmp_path, "toy_header", corpus, {"q.tsv": data, "q_test.tsv": data})
    result = ingest("toy_header", params)
    report = result.validation.report
    assert report["files"]["q.tsv"]["header"] == {"line": 1, "text": "DESC\tWhat is thing 0 ?"}
    assert report["files"]["q.tsv"]["read"] == 19
    (warning,) = [issue for issue in result.validation.issues if issue.check == "header_looks_like_data"]
    assert warning.action == "warn"
    assert warning.examples == [f"{file} line 1 'DESC\\tWhat is thing 0 ?' reads as a record (its label 'DESC' is a "
                                "known label)" for file in ("q.tsv", "q_test.tsv")]


def test_a_file_that_cannot_be_read_stops_ingest_with_one_error_naming_it(default_params, tmp_path) -> None:
    corpus = {"task": "sentiment", "format": "delimited",
              "options": {"text_column": "sentence", "label_column": "label"}, "files": {"train": {"path": "t.tsv"}}}
    params = params_with(default_params, tmp_path, "toy_cr", corpus, {"t.tsv": b"sentence\tlabel\ra\tpositive\r"})
    with pytest.raises(ReaderError, match=r"toy_cr/t\.tsv: line ends are CR alone"):
        ingest("toy_cr", params)
