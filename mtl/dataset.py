"""Unify: every corpus's accepted records -> one task-tagged dataset.

Output, under <unified>/: train.parquet, dev.parquet, test.parquet (one table per split, a `task`
column tags each row; the columns are uid, task, split, source and every field of the configured tasks'
kinds), labels.json (per task: its kind, label vocabulary and options), manifest.json (counts per task
and split, content hashes, and the dev splits carved from train), <extra>/<corpus>.parquet (each extra
evaluation set, same columns, kept out of the splits and the vocabularies: mtl/extra.py), stats.json (each
task's train statistics, drift's input: mtl/drift.py) and leakage.json (texts of one task's dev/test or of an
extra set found in another task's train split: mtl/leakage).

Bounded memory: each corpus's records stream through in batches of unify.batch_rows (a records file or a folder
of shards, mtl/splits.py) into the split files, written a row group at a time; what unify keeps is counts, label
sets, drift's running statistics and the leakage check's numpy index of the evaluated texts, not the rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field

import datasets
import pyarrow as pa
import pyarrow.compute as pc

from mtl import leakage
from mtl.config import SPLITS, Params
from mtl.corpora.fetch import sha256_of
from mtl.drift import TrainStatistics
from mtl.ingest import KEY_COLUMNS
from mtl.splits import GroupedWriter, ParquetTexts, record_batches, returning_memory_pool
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


def carve_dev(batch: pa.RecordBatch, fraction: float) -> tuple[pa.RecordBatch, int]:
    """Move a fraction of a corpus's train rows (chosen by uid hash) to a new dev split."""
    splits = batch.column("split").to_pylist()
    uids = batch.column("uid").to_pylist()
    new_splits = ["dev" if s == "train" and in_carved_dev(u, fraction) else s for s, u in zip(splits, uids)]
    moved = sum(a != b for a, b in zip(splits, new_splits))
    index = batch.schema.get_field_index("split")
    return batch.set_column(index, "split", pa.array(new_splits, pa.string())), moved


@dataclass
class Tally:
    """What unify learns while the records stream past: rows per task and split, each task's train labels (for
    the vocabularies the params leave open) and train statistics (drift's input)."""

    params: Params
    rows: dict[str, Counter] = field(default_factory=dict)
    labels: dict[str, set[str]] = field(default_factory=dict)
    statistics: TrainStatistics = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.statistics = TrainStatistics(self.params.tasks)

    def add(self, task: str, batch: pa.RecordBatch) -> None:
        options = self.params.tasks[task]
        counts = self.rows.setdefault(task, Counter())
        counts.update(batch.column("split").to_pylist())
        train = batch.filter(pc.equal(batch.column("split"), "train"))
        if not train.num_rows:
            return
        rows = train.select(list(kind_of(options).fields(options))).to_pylist()
        if options.labels is None:
            kind = kind_of(options)
            self.labels.setdefault(task, set()).update(label for row in rows for label in kind.labels_of(row))
        self.statistics.add(task, rows)


def label_vocabulary(task: TaskOptions, seen: set[str]) -> list[str]:
    """The configured label set in its configured order, else the sorted labels seen in the task's train rows."""
    return list(task.labels) if task.labels is not None else sorted(seen)


def unify(params: Params) -> dict:
    """Write the unified dataset (the module's docstring lists the files); return the manifest. With
    leakage.action fail, raises LeakageFound once everything is written (the report names the texts)."""
    with returning_memory_pool():
        return _unify(params)


def _unify(params: Params) -> dict:
    schema = unified_schema(params)
    arrow_schema = datasets.Features.from_arrow_schema(schema).arrow_schema  # carries the HF features metadata
    out = params.unified_dir
    out.mkdir(parents=True, exist_ok=True)
    tally, carved = Tally(params), {}
    writers = {split: GroupedWriter(out / f"{split}.parquet", arrow_schema, params.unify.batch_rows)
               for split in SPLITS}
    try:
        for name, corpus in params.corpora.items():
            if name in params.evaluation.extra:
                continue  # scored, never trained on: out of the splits and the label vocabularies
            carve = "dev" not in corpus.splits()
            moved = 0
            for batch in record_batches(params.interim_dir / name / params.paths.records, schema, params.unify.batch_rows):
                if carve:
                    batch, n = carve_dev(batch, params.unify.dev_fraction)
                    moved += n
                unknown = set(batch.column("split").to_pylist()) - set(SPLITS)
                if unknown:
                    raise ValueError(f"{params.interim_dir / name / params.paths.records}: split(s) {sorted(unknown)} "
                                     f"are none of {list(SPLITS)}: ingest again")
                for split, writer in writers.items():
                    writer.write(batch.filter(pc.equal(batch.column("split"), split)))
                tally.add(corpus.task, batch)
            if carve:
                carved[name] = {"from": "train", "fraction": params.unify.dev_fraction, "rows": moved, "by": "uid hash"}
    finally:
        for writer in writers.values():
            writer.close()
    extra = write_extra_sets(params, schema, arrow_schema)
    splits = {split: {"file": w.path.name, "rows": w.rows, "sha256": sha256_of(w.path)} for split, w in writers.items()}
    manifest: dict = {"splits": splits, "tasks": {}, "carved_dev": carved, "columns": schema.names,
                      "extra": {name: entry["manifest"] for name, entry in extra.items()}}
    labels = {}
    for name, task in params.tasks.items():
        labels[name] = {"kind": task.kind, "labels": label_vocabulary(task, tally.labels.get(name, set())),
                        "options": task.model_dump(mode="json", exclude={"kind", "labels"})}
        counts = tally.rows.get(name, Counter())
        manifest["tasks"][name] = {
            "kind": task.kind,
            "corpora": [corpus for corpus, c in params.corpora.items() if c.task == name and corpus not in extra],
            "rows": {split: counts[split] for split in SPLITS if counts[split]},
            "n_labels": len(labels[name]["labels"]),
        }
    labels_text = json.dumps(labels, indent=2, ensure_ascii=False) + "\n"
    (out / params.paths.labels).write_text(labels_text, encoding="utf-8")
    manifest["labels_sha256"] = hashlib.sha256(labels_text.encode()).hexdigest()
    (out / params.paths.manifest).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    stats = {"splits": {split: entry["sha256"] for split, entry in splits.items()},
             "tasks": tally.statistics.result(params.tasks)}
    (out / params.paths.data_stats).write_text(json.dumps(stats, ensure_ascii=False) + "\n", encoding="utf-8")
    found = check_leakage(params, manifest, extra)
    (out / params.paths.leakage).write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    leaks = leakage.leaking(found)
    if leaks and params.leakage.action == "fail":
        raise leakage.LeakageFound(f"{len(leaks)} task pair(s) share texts (leakage.action is fail; see "
                                   f"{out / params.paths.leakage}): " + "; ".join(map(leakage.describe, leaks[:5])))
    return manifest


def write_extra_sets(params: Params, schema: pa.Schema, arrow_schema: pa.Schema) -> dict:
    """<extra>/<corpus>.parquet per extra evaluation set (the folder always exists: a DVC output);
    {corpus: {"manifest": {task, file, rows, sha256}, "path": its file, "splits": the splits it holds}}."""
    folder = params.unified_dir / params.paths.extra
    shutil.rmtree(folder, ignore_errors=True)  # a set dropped from params leaves no stale file behind
    folder.mkdir()
    written = {}
    for name in params.evaluation.extra:
        path = folder / f"{name}.parquet"
        writer, splits = GroupedWriter(path, arrow_schema, params.unify.batch_rows), {}
        try:
            for batch in record_batches(params.interim_dir / name / params.paths.records, schema, params.unify.batch_rows):
                splits.update(dict.fromkeys(batch.column("split").to_pylist()))
                writer.write(batch)
        finally:
            writer.close()
        written[name] = {"path": path, "splits": list(splits),
                         "manifest": {"task": params.corpora[name].task, "file": f"{params.paths.extra}/{path.name}",
                                      "rows": writer.rows, "sha256": sha256_of(path)}}
    return written


def check_leakage(params: Params, manifest: dict, extra: dict) -> dict:
    """The cross-task leakage report (mtl/leakage) of the tasks and the extra sets, read back from the files
    just written; every leak is logged as a warning, and with leakage.action fail the stage fails after the report
    is written."""
    config = params.leakage
    if config.action == "off":
        return {"config": config.model_dump(mode="json"), "pairs": [], "skipped": "leakage.action is off"}
    out = params.unified_dir
    sources: list = []
    for name, task in params.tasks.items():
        present = manifest["tasks"][name]["rows"]
        sources.append(ParquetTexts(name, name, kind_of(task).text_fields(task),
                                    {split: out / f"{split}.parquet" for split in SPLITS if present.get(split)}))
    for name, entry in extra.items():
        task = params.corpora[name].task
        sources.append(ParquetTexts(f"{task}@{name}", task, kind_of(params.tasks[task]).text_fields(params.tasks[task]),
                                    dict.fromkeys(entry["splits"], entry["path"])))
    found = leakage.find_leakage(sources, config)
    for row in leakage.leaking(found):
        log.warning("cross-task leakage: %s", leakage.describe(row))
    return found
