"""Streaming ingest: the same corpus ingested in one chunk and in chunks of 7 units gives the same records, the same
quarantine and the same report (every count, every check's verdict and message); the shards hold at most
ingest.shard_records rows, and two runs write them byte for byte alike."""

from __future__ import annotations

import gc
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mtl.config import CorpusConfig, Params
from mtl.corpora.lines import ReaderError
from mtl.ingest import ingest
from mtl.validation import read_quarantine

QUESTIONS = [("DESC", "What is a thing {} ?"), ("HUM", "Who made thing {} ?"), ("NUM", "How many things {} ?")]


def question_files() -> dict[str, bytes]:
    """Labels learned from train, with something for every check: a label once (suspicious), a label with a
    control character, rows the reader refuses, texts test shares with train, a test label train never has."""
    train = [f"{label}\t{text.format(i % 9)}" for i in range(40) for label, text in [QUESTIONS[i % 3]]]
    train[5] = "DESCC\tWhat is the odd one ?"  # once, one edit from DESC: suspicious_label
    train[11] = "HUM\x01\tWho is broken ?"  # a control character in the label: quarantined, never learned
    train[17] = "NUM"  # one column: the reader refuses it
    train[23] = "DESC\t "  # no tokens: empty
    train[29] = "\xff\tbad bytes"
    test = [f"{label}\t{text.format(i)}" for i in range(12) for label, text in [QUESTIONS[i % 3]]]  # 0-8 overlap train
    test[4] = "ABBR\tWhat does AI stand for ?"  # never in train: unseen_label, and quarantined (learned set)
    test[7] = "HUM"
    return {"q_train.tsv": "\n".join(train).encode("latin-1"), "q_test.tsv": "\n".join(test).encode("latin-1")}


def pair_file() -> dict[str, bytes]:
    """One file, three splits by a column, interleaved (the file is read twice: train rows first), with bad scores,
    a split value the map lacks (its row has no split) and a pair that repeats across train and test."""
    sets = ["TRAIN", "TEST", "TRIAL", "TRAIN", "TEST"]
    rows = ["A\tB\tscore\tset"]
    for i in range(30):
        rows.append(f"a dog {i % 4} runs\ta dog {i} moves\t{1 + i % 5}\t{sets[i % 5]}")
    rows[8] = "a cat\tno cat\tn/a\tTRAIN"
    rows[12] = "a man\ta man\t7.5\tTEST"
    rows[15] = "x\ty\t2\tDEV?"  # a set the map does not know: quarantined with no split
    rows[20] = "a dog 3 runs\ta dog 3 moves\t4\tTEST"  # the same pair as train row 4
    return {"pairs.tsv": "\r\n".join(rows).encode()}


CORPORA = {
    "toy_questions": ({"task": "question", "format": "delimited",
                       "options": {"header": False, "text_column": 1, "label_column": 0, "encoding": "latin-1"},
                       "files": {"train": {"path": "q_train.tsv"}, "test": {"path": "q_test.tsv"}}}, question_files),
    "toy_pairs": ({"task": "relatedness", "format": "delimited",
                   "options": {"text_column": "A", "text_b_column": "B", "label_column": "score",
                               "split_column": "set", "split_map": {"TRAIN": "train", "TEST": "test", "TRIAL": "dev"}},
                   "files": {"all": {"path": "pairs.tsv"}}}, pair_file),
}


def params_for(default_params: Params, root: Path, name: str, chunk: int, shard: int) -> Params:
    corpus, files = CORPORA[name]
    folder = root / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    data = files()
    for file, content in data.items():
        (folder / file).write_bytes(content)
    corpus = {**corpus, "files": {key: {**entry, "sha256": hashlib.sha256(data[entry["path"]]).hexdigest()}
                                  for key, entry in corpus["files"].items()}}
    paths = default_params.paths.model_copy(update={"raw": str(root / "raw"), "interim": str(root / "interim")})
    checks = default_params.validation.checks.model_copy(
        update={"quarantine_fraction": "warn", "unseen_label": "warn", "train_test_overlap": "warn"})
    return default_params.model_copy(update={
        "paths": paths,
        "corpora": {**default_params.corpora, name: CorpusConfig.model_validate(corpus)},
        "validation": default_params.validation.model_copy(update={"checks": checks}),
        "ingest": default_params.ingest.model_copy(update={"chunk_records": chunk, "shard_records": shard}),
    })


def outputs(folder: Path) -> tuple[list[dict], list, dict, list[Path]]:
    shards = sorted((folder / "records").iterdir())
    return (pq.read_table(folder / "records").to_pylist(), read_quarantine(folder / "quarantine.jsonl"),
            json.loads((folder / "report.json").read_text(encoding="utf-8")), shards)


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_chunks_of_7_give_what_one_chunk_gives(default_params, tmp_path, name) -> None:
    whole = ingest(name, params_for(default_params, tmp_path / "whole", name, chunk=10**9, shard=10**9))
    chunked = ingest(name, params_for(default_params, tmp_path / "chunked", name, chunk=7, shard=5))
    rows, quarantine, report, shards = outputs(whole.output_dir)
    rows_7, quarantine_7, report_7, shards_7 = outputs(chunked.output_dir)

    assert rows_7 == rows and quarantine_7 == quarantine  # the same rows and entries, in the same order
    assert report_7 == report  # every count, the suite's summary, every check's verdict and message
    assert chunked.validation.issues == whole.validation.issues
    assert chunked.validation.labels == whole.validation.labels
    # the corpus is big enough to be cut, and has something for the checks to find
    assert report["read"] > 4 * 7 and report["quarantined"] >= 3
    fired = {entry["check"] for entry in report["checks"] if entry["fired"]}
    assert {"quarantine_fraction", "train_test_overlap"} <= fired
    if name == "toy_questions":
        assert {"unseen_label", "suspicious_label"} <= fired
        assert "HUM\x01" not in whole.validation.labels and "DESCC" in whole.validation.labels

    # shards of at most 5 rows, train first
    assert len(shards) == 1 and [pq.read_metadata(path).num_rows for path in shards_7] == \
        [5] * (len(rows) // 5) + ([len(rows) % 5] if len(rows) % 5 else [])
    splits = [row["split"] for row in rows]
    assert splits == sorted(splits, key=lambda split: split != "train")
    # read == accepted + quarantined per file, per split and per cell, chunked or not
    for counts in [*report["files"].values(), *report["splits"].values(),
                   *[cell for entry in report["files"].values() for cell in entry["splits"].values()]]:
        assert counts["read"] == counts["accepted"] + counts["quarantined"]
    assert report["accepted"] == len(rows) and report["quarantined"] == len(quarantine)


def test_two_runs_write_byte_identical_shards(default_params, tmp_path) -> None:
    digests = []
    for run in ("first", "second"):
        result = ingest("toy_pairs", params_for(default_params, tmp_path / run, "toy_pairs", chunk=7, shard=5))
        digests.append({path.name: hashlib.sha256(path.read_bytes()).hexdigest()
                        for path in sorted((result.output_dir / "records").iterdir())})
        assert result.shards == len(digests[-1]) > 1
    assert digests[0] == digests[1]


def test_a_rerun_replaces_every_shard_of_the_last(default_params, tmp_path) -> None:
    """A stale shard left in records/ would be read as this run's records: a rerun empties the folder first."""
    params = params_for(default_params, tmp_path, "toy_pairs", chunk=7, shard=2)
    first = ingest("toy_pairs", params)
    ingest("toy_pairs", params.model_copy(update={"ingest": params.ingest.model_copy(update={"shard_records": 100})}))
    assert [path.name for path in (first.output_dir / "records").iterdir()] == ["part-00000.parquet"]


def test_the_garbage_collector_is_on_again_after_ingest_even_when_a_file_cannot_be_read(default_params, tmp_path):
    """Ingest pauses Python's cyclic collector within a chunk (a process-wide switch): it must come back on."""
    params = params_for(default_params, tmp_path, "toy_questions", chunk=7, shard=5)
    ingest("toy_questions", params)
    assert gc.isenabled()
    (tmp_path / "raw" / "toy_questions" / "q_test.tsv").write_bytes(b"DESC\tWhat ?\rHUM\tWho ?\r")  # CR-only line ends
    with pytest.raises(ReaderError, match="line ends are CR alone"):
        ingest("toy_questions", params)
    assert gc.isenabled()
