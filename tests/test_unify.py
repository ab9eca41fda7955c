"""Unify streams: a corpus's records (one file or a folder of shards) pass through in batches, the split files are
written a row group at a time, and what comes out depends on the records and params only: the same rows whatever
the batch size or the sharding, the same bytes from one run to the next."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtl.config import Params
from mtl.dataset import in_carved_dev, unify
from mtl.drift import TrainStatistics, train_statistics
from mtl.ingest import KEY_COLUMNS
from mtl.tasks import task_options

WORDS = "the a film good bad plot actor scene slow fast story ending".split()


def records(corpus: str, task: str, splits: list[str], n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    rows = {name: [] for name, _ in KEY_COLUMNS} | {"tokens": [], "label": []}
    for i in range(n):
        rows["uid"].append(f"{rng.getrandbits(64):016x}")
        rows["task"].append(task)
        rows["split"].append(splits[i % len(splits)])
        rows["source"].append(f"{corpus}/f:{i + 1}")
        rows["tokens"].append(rng.choices(WORDS, k=rng.randint(3, 9)))
        rows["label"].append(rng.choice(["pos", "neg"]) if task == "sentiment" else rng.choice(["HUM", "LOC", "NUM"]))
    return pa.table(rows)


def project(tmp_path, batch_rows: int, shards: int) -> Params:
    """Two corpora (one without a dev split: dev is carved), records as `shards` Parquet shards (0: one file)."""
    corpora = {"reviews": ("sentiment", ["train", "dev", "test"]), "questions": ("question", ["train", "test"])}
    params = Params.model_validate({
        "root": tmp_path, "unify": {"batch_rows": batch_rows},
        "paths": {"records": "records" if shards else "records.parquet"},
        "corpora": {name: {"task": task, "format": "jsonl",
                           "files": {s: {"path": f"{s}.jsonl", "sha256": "0" * 64} for s in splits}}
                    for name, (task, splits) in corpora.items()},
        "tasks": {"sentiment": {"kind": "classification"}, "question": {"kind": "classification"}},
        "gate": {"tasks": {"sentiment": {"floor": 0}, "question": {"floor": 0}}}})
    for seed, (name, (task, splits)) in enumerate(corpora.items()):
        table = records(name, task, splits, 230, seed)
        target = params.interim_dir / name / params.paths.records
        if shards:
            target.mkdir(parents=True)
            step = -(-table.num_rows // shards)
            for i in range(shards):
                pq.write_table(table.slice(i * step, step), target / f"part-{i:05d}.parquet")
        else:
            target.parent.mkdir(parents=True)
            pq.write_table(table, target)
    return params


def outputs(params: Params) -> dict[str, bytes]:
    folder = params.unified_dir
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def test_the_same_records_give_the_same_bytes_and_row_groups_of_batch_rows(tmp_path):
    params = project(tmp_path, batch_rows=64, shards=3)
    manifest = unify(params)
    first = outputs(params)
    unify(params)
    assert outputs(params) == first  # every file, byte for byte
    train = pq.ParquetFile(params.unified_dir / "train.parquet")
    sizes = [train.metadata.row_group(i).num_rows for i in range(train.metadata.num_row_groups)]
    assert sizes[:-1] == [64] * (len(sizes) - 1) and 0 < sizes[-1] <= 64 and sum(sizes) == manifest["splits"]["train"]["rows"]


def test_batch_size_and_sharding_change_the_row_groups_not_the_rows(tmp_path):
    one_file = project(tmp_path / "a", batch_rows=10_000, shards=0)
    sharded = project(tmp_path / "b", batch_rows=7, shards=4)
    manifests = [unify(one_file), unify(sharded)]
    for split in ("train", "dev", "test"):
        a, b = (pq.read_table(p.unified_dir / f"{split}.parquet") for p in (one_file, sharded))
        assert a.num_rows and a.equals(b) and a.schema.metadata == b.schema.metadata  # the HF features travel too
    for name, part in (("labels.json", None), ("stats.json", "tasks"), ("leakage.json", "pairs")):
        a, b = (json.loads((p.unified_dir / name).read_text()) for p in (one_file, sharded))
        assert a and (a if part is None else a[part]) == (b if part is None else b[part])  # stats' split hashes differ
    assert manifests[0]["tasks"] == manifests[1]["tasks"] and manifests[0]["carved_dev"] == manifests[1]["carved_dev"]


def test_dev_is_carved_by_uid_hash_and_counted(tmp_path):
    params = project(tmp_path, batch_rows=50, shards=2)
    manifest = unify(params)
    source = pq.read_table(params.interim_dir / "questions" / "records")
    moved = sum(in_carved_dev(uid, params.unify.dev_fraction) for uid, split in
                zip(source.column("uid").to_pylist(), source.column("split").to_pylist()) if split == "train")
    assert moved > 0 and manifest["carved_dev"]["questions"]["rows"] == moved
    assert manifest["tasks"]["question"]["rows"]["dev"] == moved
    dev = pq.read_table(params.unified_dir / "dev.parquet")
    assert dev.column("task").to_pylist().count("question") == moved


def test_a_split_unify_does_not_know_is_an_error_naming_the_file(tmp_path):
    params = project(tmp_path, batch_rows=50, shards=0)
    path = params.interim_dir / "reviews" / params.paths.records
    table = pq.read_table(path)
    splits = table.column("split").to_pylist()
    splits[5] = "validation"
    pq.write_table(table.set_column(table.schema.get_field_index("split"), "split", pa.array(splits)), path)
    with pytest.raises(ValueError, match=r"reviews/records.parquet: split\(s\) \['validation'\]"):
        unify(params)


def test_train_statistics_fed_in_batches_equal_those_of_all_rows():
    tasks = {"sentiment": task_options("classification", labels=["neg", "pos"])}
    rng = random.Random(3)
    rows = [{"tokens": rng.choices(WORDS, k=rng.randint(1, 8)), "label": rng.choice(["neg", "pos"])} for _ in range(500)]
    running = TrainStatistics(tasks)
    for start in range(0, len(rows), 37):
        running.add("sentiment", rows[start:start + 37])
    assert json.dumps(running.result(["sentiment"])) == json.dumps(train_statistics({"sentiment": rows}, tasks))
