"""The ingest stage for one corpus: read every file, validate, write what was accepted and what was not.

Outputs, under <interim>/<corpus>/: records.parquet (accepted records: uid, task, split, source and the
task kind's fields), quarantine.jsonl (every refused unit with its source, raw text, reason and key) and
report.json (counts per file, split and reason, the GX summary, the batch checks). A batch check at "fail"
fails the stage after the files are written, so the person reading the error can open the report and the
quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mtl.config import Params
from mtl.corpora.formats import FORMATS
from mtl.corpora.lines import Header
from mtl.errors import MtlError
from mtl.extra import relabel
from mtl.records import Record, Rejection
from mtl.tasks import kind_of
from mtl.tasks.kind import TaskKind, TaskOptions
from mtl.validation import CorpusValidation, failures, validate_corpus, write_quarantine

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
    validation: CorpusValidation


def read_corpus(name: str, params: Params) -> tuple[list[Record], list[Rejection], list[Header]]:
    """Read every file of a corpus with its format's reader: the records, the readers' rejections and the header
    lines they read (not units of input, but shown in the report)."""
    corpus = params.corpora[name]
    reader = FORMATS[corpus.format]
    records: list[Record] = []
    rejections: list[Rejection] = []
    headers: list[Header] = []
    sort = {Record: records, Rejection: rejections, Header: headers}
    for key, file in corpus.files.items():
        path = params.raw_dir / name / file.path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run `mtl corpora pull {name}` first")
        for item in reader.read(
            path,
            corpus.reader_options(key),
            corpus=name,
            task=corpus.task,
            split=key,
            max_line_bytes=params.validation.max_line_bytes,
        ):
            sort[type(item)].append(item)
    return records, rejections, headers


def ingest(name: str, params: Params) -> IngestResult:
    if name not in params.corpora:
        raise KeyError(f"no corpus {name!r} in params; known: {sorted(params.corpora)}")
    corpus = params.corpora[name]
    task = params.tasks[corpus.task]
    records, rejections, headers = read_corpus(name, params)
    if name in params.evaluation.extra:  # an extra evaluation set: its labels mapped onto the task's first
        records, refused = relabel(records, params.evaluation.extra[name].labels, name)
        rejections += refused
    validation = validate_corpus(
        name,
        records,
        rejections,
        headers=headers,
        files=[file.path for file in corpus.files.values()],
        splits=corpus.splits(),
        task_name=corpus.task,
        task=task,
        config=params.validation,
    )

    output_dir = params.interim_dir / name
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = params.paths
    write_records(output_dir / paths.records, validation.accepted, record_schema(kind_of(task), task))
    write_quarantine(output_dir / paths.quarantine, validation.quarantined)
    (output_dir / paths.ingest_report).write_text(json.dumps(validation.report, indent=2, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")

    failed = failures(validation)
    if failed:
        raise IngestFailed("\n".join(issue.message for issue in failed))
    return IngestResult(name, output_dir, validation)


def write_records(path: Path, records_by_split: dict[str, list[Record]], schema: pa.Schema) -> None:
    rows = [record for split in sorted(records_by_split) for record in records_by_split[split]]
    columns = {"uid": [r.uid for r in rows], "task": [r.task for r in rows], "split": [r.split for r in rows],
               "source": [r.source for r in rows]}
    for name in schema.names[len(KEY_COLUMNS):]:
        columns[name] = [r.fields[name] for r in rows]
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)


def counts_table(params: Params) -> list[dict]:
    """One row per corpus file from the ingest reports: what was read, accepted and quarantined."""
    rows = []
    for name in params.corpora:
        report = json.loads((params.interim_dir / name / params.paths.ingest_report).read_text(encoding="utf-8"))
        for file, entry in report["files"].items():
            for split, counts in entry["splits"].items():
                rows.append({"corpus": name, "file": file, "split": split, **counts})
    return rows
