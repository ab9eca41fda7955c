"""The data stages through real DVC in a temporary git repository, on small cuts of the real corpora."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from mtl.pipeline import repro
from tests.workspace import make_workspace, mtl


def test_repro_builds_the_dataset_then_reruns_only_what_changed(tmp_path, shared_corpora):
    ws = make_workspace(tmp_path, shared_corpora, n=150)
    mtl(ws, "corpora", "pull")
    assert (ws.root / "data" / "raw.dvc").is_file(), "pull versions data/raw with DVC"

    first = repro(ws.root, "unify")
    assert sorted(first.ran) == ["ingest@sst2", "ingest@trec", "ingest@ud_english_ewt", "ingest@wnut17", "unify"]

    manifest = json.loads((ws.root / "data/unified/manifest.json").read_text())
    assert manifest["tasks"]["pos"]["rows"] == {"train": 150, "dev": 150, "test": 150}
    assert manifest["carved_dev"]["trec"]["rows"] > 0  # TREC has no dev split: one is carved from train
    trec = manifest["tasks"]["question"]["rows"]
    assert trec["train"] + trec["dev"] == 150 and trec["test"] == 150
    train = pq.read_table(ws.root / "data/unified/train.parquet")
    assert set(train.column("task").to_pylist()) == {"pos", "ner", "sentiment", "question"}
    assert train.num_rows == manifest["splits"]["train"]["rows"]

    second = repro(ws.root, "unify")
    assert second.ran == [], f"a second repro must do nothing, ran {second.ran}"

    # New data in one corpus: only that corpus's ingest and the unify stage run again.
    trec_test = ws.root / "data/raw/trec/TREC_10.label"
    trec_test.write_bytes(trec_test.read_bytes() + b"HUM:ind Who wrote the unified record schema ?\n")
    third = repro(ws.root, "unify")
    assert sorted(third.ran) == ["ingest@trec", "unify"]
    manifest = json.loads((ws.root / "data/unified/manifest.json").read_text())
    assert manifest["tasks"]["question"]["rows"]["test"] == 151
