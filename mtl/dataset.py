"""Unify: every corpus's accepted records -> one task-tagged dataset.

Output, under <unified>/: train.parquet, dev.parquet, test.parquet (one table per split, a `task`
column tags each row), labels.json (the label vocabulary per task) and manifest.json (counts per task
and split, content hashes, and the dev splits carved from train).
"""

from __future__ import annotations

import hashlib
import json

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mtl.config import SPLITS, Params
from mtl.corpora.fetch import sha256_of

FEATURES = datasets.Features(
    {
        "uid": datasets.Value("string"),
        "task": datasets.Value("string"),
        "split": datasets.Value("string"),
        "tokens": datasets.List(datasets.Value("string")),
        "tags": datasets.List(datasets.Value("string")),
        "label": datasets.Value("string"),
        "source": datasets.Value("string"),
    }
)


def in_carved_dev(uid: str, fraction: float) -> bool:
    """Deterministic, order-independent choice of held-out rows: the uid is already a uniform hash."""
    return int(uid[:8], 16) / 0x1_0000_0000 < fraction


def carve_dev(table: pa.Table, fraction: float) -> tuple[pa.Table, int]:
    """Move a fraction of a corpus's train rows (chosen by uid hash) to a new dev split."""
    splits = table.column("split").to_pylist()
    uids = table.column("uid").to_pylist()
    new_splits = ["dev" if s == "train" and in_carved_dev(u, fraction) else s for s, u in zip(splits, uids)]
    moved = sum(a != b for a, b in zip(splits, new_splits))
    index = table.schema.get_field_index("split")
    return table.set_column(index, "split", pa.array(new_splits, pa.string())), moved


def label_vocabulary(params: Params, task: str, train: pa.Table) -> list[str]:
    """The configured label set in its configured order, else the sorted labels seen in train."""
    configured = params.tasks[task].labels
    if configured is not None:
        return list(configured)
    rows = train.filter(pc.equal(train.column("task"), task))
    tags = {tag for tag_list in rows.column("tags").to_pylist() for tag in tag_list}
    labels = {label for label in rows.column("label").to_pylist() if label is not None}
    return sorted(tags | labels)


def unify(params: Params) -> dict:
    datasets.disable_progress_bars()
    tables, carved = [], {}
    for name, corpus in params.corpora.items():
        table = pq.read_table(params.interim_dir / name / "records.parquet")
        if "dev" not in corpus.files:
            table, moved = carve_dev(table, params.unify.dev_fraction)
            carved[name] = {"from": "train", "fraction": params.unify.dev_fraction, "rows": moved, "by": "uid hash"}
        tables.append(table)
    everything = pa.concat_tables(tables)

    out = params.unified_dir
    out.mkdir(parents=True, exist_ok=True)
    split_column = everything.column("split")
    manifest: dict = {"splits": {}, "tasks": {}, "carved_dev": carved}
    for split in SPLITS:
        part = everything.filter(pc.equal(split_column, split))
        path = out / f"{split}.parquet"
        datasets.Dataset(part.cast(FEATURES.arrow_schema)).to_parquet(str(path))
        manifest["splits"][split] = {"file": path.name, "rows": part.num_rows, "sha256": sha256_of(path)}
        if split == "train":
            train = part

    labels = {}
    for task, config in params.tasks.items():
        labels[task] = {"kind": config.kind, "scheme": config.scheme, "labels": label_vocabulary(params, task, train)}
        task_rows = everything.filter(pc.equal(everything.column("task"), task))
        counts = task_rows.group_by("split").aggregate([("uid", "count")]).to_pylist()
        manifest["tasks"][task] = {
            "kind": config.kind,
            "corpora": [name for name, c in params.corpora.items() if c.task == task],
            "rows": {row["split"]: row["uid_count"] for row in sorted(counts, key=lambda r: SPLITS.index(r["split"]))},
            "n_labels": len(labels[task]["labels"]),
        }

    labels_text = json.dumps(labels, indent=2, ensure_ascii=False) + "\n"
    (out / "labels.json").write_text(labels_text)
    manifest["labels_sha256"] = hashlib.sha256(labels_text.encode()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
