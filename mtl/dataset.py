"""Unify: every corpus's accepted records -> one task-tagged dataset.

Output, under <unified>/: train.parquet, dev.parquet, test.parquet (one table per split, a `task`
column tags each row; the columns are uid, task, split, source and every field of the configured tasks'
kinds), labels.json (per task: its kind, label vocabulary and options), manifest.json (counts per task
and split, content hashes, and the dev splits carved from train), <extra>/<corpus>.parquet (each extra
evaluation set, same columns, kept out of the splits and the vocabularies: mtl/extra.py), stats.json (each
task's train statistics, drift's input: mtl/drift.py) and leakage.json (texts of one task's dev/test or of an
extra set found in another task's train split: mtl/leakage.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mtl import leakage
from mtl.config import SPLITS, Params
from mtl.corpora.fetch import sha256_of
from mtl.drift import train_statistics
from mtl.ingest import KEY_COLUMNS
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskOptions

log = logging.getLogger(__name__)


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
    """Write the unified dataset (the module's docstring lists the files); return the manifest. With
    leakage.action fail, raises LeakageFound once everything is written (the report names the texts)."""
    datasets.disable_progress_bars()
    schema = unified_schema(params)
    tables, carved, extra = [], {}, {}
    for name, corpus in params.corpora.items():
        table = conform(pq.read_table(params.interim_dir / name / params.paths.records), schema)
        if name in params.evaluation.extra:
            extra[name] = table  # scored, never trained on: out of the splits and the label vocabularies
            continue
        if "dev" not in corpus.splits():
            table, moved = carve_dev(table, params.unify.dev_fraction)
            carved[name] = {"from": "train", "fraction": params.unify.dev_fraction, "rows": moved, "by": "uid hash"}
        tables.append(table)
    everything = pa.concat_tables(tables)
    out = params.unified_dir
    out.mkdir(parents=True, exist_ok=True)

    manifest: dict = {"splits": write_splits(everything, out, schema), "tasks": {}, "carved_dev": carved,
                      "columns": schema.names, "extra": write_extra_sets(params, extra, schema)}
    labels, task_column = {}, everything.column("task")
    for name, task in params.tasks.items():
        rows = everything.filter(pc.equal(task_column, name))
        train = rows.filter(pc.equal(rows.column("split"), "train"))
        labels[name] = {"kind": task.kind, "labels": label_vocabulary(task, train),
                        "options": task.model_dump(mode="json", exclude={"kind", "labels"})}
        counts = rows.group_by("split").aggregate([("uid", "count")]).to_pylist()
        manifest["tasks"][name] = {
            "kind": task.kind,
            "corpora": [corpus for corpus, c in params.corpora.items() if c.task == name and corpus not in extra],
            "rows": {row["split"]: row["uid_count"] for row in sorted(counts, key=lambda r: SPLITS.index(r["split"]))},
            "n_labels": len(labels[name]["labels"]),
        }
    labels_text = json.dumps(labels, indent=2, ensure_ascii=False) + "\n"
    (out / params.paths.labels).write_text(labels_text, encoding="utf-8")
    manifest["labels_sha256"] = hashlib.sha256(labels_text.encode()).hexdigest()
    (out / params.paths.manifest).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    rows = {name: table_rows(everything.filter(pc.equal(task_column, name)), task) for name, task in params.tasks.items()}
    train_rows = {name: [row for row in task_rows if row["split"] == "train"] for name, task_rows in rows.items()}
    stats = {"splits": {split: entry["sha256"] for split, entry in manifest["splits"].items()},
             "tasks": train_statistics(train_rows, params.tasks)}
    (out / params.paths.data_stats).write_text(json.dumps(stats, ensure_ascii=False) + "\n", encoding="utf-8")
    found = check_leakage(params, rows, extra)
    (out / params.paths.leakage).write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    leaks = leakage.leaking(found)
    if leaks and params.leakage.action == "fail":
        raise leakage.LeakageFound(f"{len(leaks)} task pair(s) share texts (leakage.action is fail; see "
                                   f"{out / params.paths.leakage}): " + "; ".join(map(leakage.describe, leaks[:5])))
    return manifest


def write_splits(everything: pa.Table, out: Path, schema: pa.Schema) -> dict:
    """<split>.parquet per split; {split: {file, rows, sha256}}."""
    arrow_schema = datasets.Features.from_arrow_schema(schema).arrow_schema
    written = {}
    for split in SPLITS:
        part = everything.filter(pc.equal(everything.column("split"), split))
        path = out / f"{split}.parquet"
        datasets.Dataset(part.cast(arrow_schema)).to_parquet(str(path))
        written[split] = {"file": path.name, "rows": part.num_rows, "sha256": sha256_of(path)}
    return written


def write_extra_sets(params: Params, extra: dict[str, pa.Table], schema: pa.Schema) -> dict:
    """<extra>/<corpus>.parquet per extra evaluation set (the folder always exists: a DVC output);
    {corpus: {task, file, rows, sha256}}."""
    arrow_schema = datasets.Features.from_arrow_schema(schema).arrow_schema
    folder = params.unified_dir / params.paths.extra
    shutil.rmtree(folder, ignore_errors=True)  # a set dropped from params leaves no stale file behind
    folder.mkdir()
    written = {}
    for name, table in extra.items():
        path = folder / f"{name}.parquet"
        datasets.Dataset(table.cast(arrow_schema)).to_parquet(str(path))
        written[name] = {"task": params.corpora[name].task, "file": f"{params.paths.extra}/{path.name}",
                         "rows": table.num_rows, "sha256": sha256_of(path)}
    return written


def check_leakage(params: Params, rows: dict[str, list[dict]], extra: dict[str, pa.Table]) -> dict:
    """The cross-task leakage report (mtl/leakage.py) of the tasks and the extra sets; every leak is logged
    as a warning, and with leakage.action fail the stage fails after the report is written."""
    config = params.leakage
    if config.action == "off":
        return {"config": config.model_dump(mode="json"), "pairs": [], "skipped": "leakage.action is off"}
    texts = [task_texts(name, params.tasks[name], task_rows) for name, task_rows in rows.items()]
    for name, table in extra.items():
        task = params.corpora[name].task
        texts.append(task_texts(f"{task}@{name}", params.tasks[task], table_rows(table, params.tasks[task])))
    found = leakage.find_leakage(texts, config)
    for row in leakage.leaking(found):
        log.warning("cross-task leakage: %s", leakage.describe(row))
    return found


def task_texts(name: str, task: TaskOptions, rows: list[dict]) -> leakage.TaskTexts:
    fields = kind_of(task).text_fields(task)
    splits: dict[str, list] = {}
    for row in rows:
        splits.setdefault(row["split"], []).append((row["source"], tuple(row[field] for field in fields)))
    return leakage.TaskTexts(name, len(fields), splits)


def table_rows(table: pa.Table, task: TaskOptions) -> list[dict]:
    """A task's rows with the key columns and its kind's fields only."""
    columns = [name for name, _ in KEY_COLUMNS] + list(kind_of(task).fields(task))
    return table.select(columns).to_pylist()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A corpus's records with every column of the unified schema, in its order (null where the kind has none)."""
    columns = [table.column(f.name) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
