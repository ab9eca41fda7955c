"""The ingest stage for one corpus: read every file, validate, write what was accepted and what was not, as it goes.

Outputs, under <interim>/<corpus>/: records/ (accepted records, Parquet shards part-00000.parquet, ... of at
most ingest.shard_records rows: uid, task, split, source and the task kind's fields), quarantine.jsonl (every
refused unit with its source, raw text, reason and key) and report.json (counts per file, split and reason, the
GX summary, the batch checks). A batch check at "fail" fails the stage after the files are written, so the
person reading the error can open the report and the quarantine.

The corpus streams through in chunks of ingest.chunk_records units (records and rejections): each chunk is
validated (one GX batch), its accepted records appended to the shards and its rejections to the quarantine, then
dropped; what the batch checks need is kept as running statistics (mtl/validation/stream.py). Train comes first
(labels are learned from it, and test is compared with it): the files feeding train are read, then the others; a
file feeding several splits (a split column) is read twice, its train rows the first time. So the records are
written train first, then the other splits in file order, each in read order; the same corpus gives the same
shards byte for byte, and the same records, quarantine and report whatever the chunk size.

DVC and the shards: a directory out is hashed per file, so `dvc push` uploads only shards whose bytes changed.
But a stage that reruns rewrites all its outs: a change to one of a corpus's files reruns its whole ingest stage
(every shard rewritten, identical ones deduplicated by the cache). Per-file incrementality inside one corpus would
need one stage per source file, which DVC allows (foreach over files) but which this pipeline does not do: train
must be read before test. Appending rows to the end of a corpus changes only its last shard(s); inserting near
the start shifts every shard after it.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mtl.config import Params
from mtl.corpora.formats import FORMATS
from mtl.corpora.lines import Header
from mtl.errors import MtlError
from mtl.extra import relabel
from mtl.records import Record, Rejection
from mtl.shards import ShardWriter
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskKind, TaskOptions
from mtl.validation import CorpusValidator, ValidationSummary, failures, quarantine_line

# Every record table starts with these; the task's kind adds its fields (mtl/tasks: kind.fields).
KEY_COLUMNS = [("uid", pa.string()), ("task", pa.string()), ("split", pa.string()), ("source", pa.string())]


def record_schema(kind: TaskKind, options: TaskOptions) -> pa.Schema:
    return pa.schema([*KEY_COLUMNS, *kind.fields(options).items()])


class IngestFailed(MtlError):
    """A batch-level check at 'fail' fired; the message says which, for which corpus, with examples."""


@dataclass(frozen=True)
class IngestResult:
    corpus: str
    output_dir: Path
    validation: ValidationSummary  # labels, report, issues (the records are in the files, not here)
    shards: int  # Parquet shards written under records/


def read_units(name: str, params: Params, headers: list[Header]) -> Iterator[Record | Rejection]:
    """Every unit of a corpus's files as its format's reader yields it, train first: the files feeding train,
    then every file feeding another split (or whose rows' splits are unknown until read), each unit once. The
    header lines the readers read (not units of input, but shown in the report) are appended to `headers`."""
    corpus = params.corpora[name]
    reader = FORMATS[corpus.format]
    mapping = params.evaluation.extra[name].labels if name in params.evaluation.extra else {}
    read_before: set[str] = set()
    for train_pass in (True, False):
        for key, file in corpus.files.items():
            options = corpus.reader_options(key)
            split_map = getattr(options, "split_map", None)
            feeds = set(split_map.values()) if split_map else {key}
            if (train_pass and "train" not in feeds) or (not train_pass and feeds == {"train"} and not split_map):
                continue  # nothing of this file's is this pass's
            path = params.raw_dir / name / file.path
            if not path.is_file():
                raise FileNotFoundError(f"{path}: missing; run `mtl corpora pull {name}` first")
            for item in reader.read(path, options, corpus=name, task=corpus.task, split=key,
                                    max_line_bytes=params.validation.max_line_bytes):
                if isinstance(item, Header):
                    if key not in read_before:
                        headers.append(item)
                    continue
                if (key in read_before and item.split == "train") or (train_pass and item.split != "train"):
                    continue  # this pass is not this unit's (a file read twice gives each unit once)
                if mapping and isinstance(item, Record):  # an extra evaluation set: its labels mapped onto the task's
                    kept, refused = relabel([item], mapping, name)
                    item = kept[0] if kept else refused[0]
                yield item
            read_before.add(key)


def chunks(units: Iterator[Record | Rejection], size: int) -> Iterator[list[Record | Rejection]]:
    while chunk := list(islice(units, size)):
        yield chunk


@contextmanager
def collect_between_chunks() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a chunk is validated, and run once after it.

    A chunk allocates about a million objects (records, their token lists, GX's frame), which the collector's
    default thresholds scan again and again as they survive: 40% of ingest's CPU time on SST-2 (9.5 s against 5.8 s
    with the collector off, 3x SST-2). Records hold no reference cycles, so they are freed as the chunk is
    dropped whatever the collector does; the cycles GX and pandas leave are collected once per chunk, which keeps
    memory bounded. The collector is process-wide: it is enabled again (if it was) however ingest ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def ingest(name: str, params: Params) -> IngestResult:
    if name not in params.corpora:
        raise KeyError(f"no corpus {name!r} in params; known: {sorted(params.corpora)}")
    corpus = params.corpora[name]
    task = params.tasks[corpus.task]
    validator = CorpusValidator(name, files=[file.path for file in corpus.files.values()], splits=corpus.splits(),
                                task_name=corpus.task, task=task, config=params.validation)
    output_dir = params.interim_dir / name
    output_dir.mkdir(parents=True, exist_ok=True)
    paths, schema, headers = params.paths, record_schema(kind_of(task), task), []
    (output_dir / paths.ingest_report).unlink(missing_ok=True)  # a run that fails midway leaves no stale report
    with ShardWriter(output_dir / paths.records, schema, params.ingest.shard_records) as shards, \
            (output_dir / paths.quarantine).open("wb") as quarantine, collect_between_chunks():
        for chunk in chunks(read_units(name, params, headers), params.ingest.chunk_records):
            outcomes = validator.validate(chunk)
            shards.write(records_table([unit for unit in outcomes if isinstance(unit, Record)], schema))
            quarantine.writelines(quarantine_line(unit) for unit in outcomes if isinstance(unit, Rejection))
            del chunk, outcomes
            gc.collect()
    summary = validator.finish(headers)
    (output_dir / paths.ingest_report).write_text(json.dumps(summary.report, indent=2, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
    failed = failures(summary)
    if failed:
        raise IngestFailed("\n".join(issue.message for issue in failed))
    return IngestResult(name, output_dir, summary, shards.shards)


def records_table(records: list[Record], schema: pa.Schema) -> pa.Table:
    columns = {"uid": [r.uid for r in records], "task": [r.task for r in records],
               "split": [r.split for r in records], "source": [r.source for r in records]}
    for name in schema.names[len(KEY_COLUMNS):]:
        columns[name] = [r.fields[name] for r in records]
    return pa.Table.from_pydict(columns, schema=schema)


def write_records(path: Path, records_by_split: dict[str, list[Record]], schema: pa.Schema) -> None:
    """One Parquet file of records held in memory (validate_corpus's), split by split."""
    pq.write_table(records_table([r for split in sorted(records_by_split) for r in records_by_split[split]], schema),
                   path)


def counts_table(params: Params) -> list[dict]:
    """One row per corpus file from the ingest reports: what was read, accepted and quarantined."""
    rows = []
    for name in params.corpora:
        report = json.loads((params.interim_dir / name / params.paths.ingest_report).read_text(encoding="utf-8"))
        for file, entry in report["files"].items():
            for split, counts in entry["splits"].items():
                rows.append({"corpus": name, "file": file, "split": split, **counts})
    return rows
