"""Unify: every corpus's accepted records -> one task-tagged dataset.

Output, under <unified>/: train.parquet, dev.parquet, test.parquet (one table per split, a `task`
column tags each row; the columns are uid, task, split, source and every field of the configured tasks'
kinds), labels.json (per task: its kind, label vocabulary and options) and manifest.json (counts per task
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
from mtl.ingest import KEY_COLUMNS, expected_splits
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions


def unified_schema(params: Params) -> pa.Schema:
    """The key columns, then every field of the configured tasks' kinds (a task's rows hold null in the
    columns of other kinds' fields). Two kinds giving one field name two types is a configuration error."""
    fields: dict[str, pa.DataType] = {}
    for name, task in params.tasks.items():
        for field, dtype in kind_of(task).fields(task).items():
            if fields.setdefault(field, dtype) != dtype:
                raise ValueError(f"task {name!r}: field {field!r} is {dtype} but another task's kind has {fields[field]}")
    return pa.schema([*KEY_COLUMNS, *sorted(fields.items())])


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


def label_vocabulary(task: TaskOptions, train: pa.Table) -> list[str]:
    """The configured label set in its configured order, else the sorted labels seen in the task's train rows."""
    if task.labels is not None:
        return list(task.labels)
    kind = kind_of(task)
    return sorted({label for row in train.to_pylist() for label in kind.labels_of(row)})


def unify(params: Params) -> dict:
    datasets.disable_progress_bars()
    schema = unified_schema(params)
    tables, carved = [], {}
    for name, corpus in params.corpora.items():
        table = conform(pq.read_table(params.interim_dir / name / params.paths.records), schema)
        if "dev" not in expected_splits(corpus):
            table, moved = carve_dev(table, params.unify.dev_fraction)
            carved[name] = {"from": "train", "fraction": params.unify.dev_fraction, "rows": moved, "by": "uid hash"}
        tables.append(table)
    everything = pa.concat_tables(tables)
    features = datasets.Features.from_arrow_schema(schema)

    out = params.unified_dir
    out.mkdir(parents=True, exist_ok=True)
    split_column, task_column = everything.column("split"), everything.column("task")
    manifest: dict = {"splits": {}, "tasks": {}, "carved_dev": carved, "columns": schema.names}
    for split in SPLITS:
        part = everything.filter(pc.equal(split_column, split))
        path = out / f"{split}.parquet"
        datasets.Dataset(part.cast(features.arrow_schema)).to_parquet(str(path))
        manifest["splits"][split] = {"file": path.name, "rows": part.num_rows, "sha256": sha256_of(path)}

    labels = {}
    for name, task in params.tasks.items():
        rows = everything.filter(pc.equal(task_column, name))
        train = rows.filter(pc.equal(rows.column("split"), "train"))
        labels[name] = {"kind": task.kind, "labels": label_vocabulary(task, train),
                        "options": task.model_dump(mode="json", exclude={"kind", "labels"})}
        counts = rows.group_by("split").aggregate([("uid", "count")]).to_pylist()
        manifest["tasks"][name] = {
            "kind": task.kind,
            "corpora": [corpus_name for corpus_name, c in params.corpora.items() if c.task == name],
            "rows": {row["split"]: row["uid_count"] for row in sorted(counts, key=lambda r: SPLITS.index(r["split"]))},
            "n_labels": len(labels[name]["labels"]),
        }

    labels_text = json.dumps(labels, indent=2, ensure_ascii=False) + "\n"
    (out / params.paths.labels).write_text(labels_text, encoding="utf-8")
    manifest["labels_sha256"] = hashlib.sha256(labels_text.encode()).hexdigest()
    (out / params.paths.manifest).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A corpus's records with every column of the unified schema, in its order (null where the kind has none)."""
    columns = [table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
