"""The ingest stage for one corpus: read every file, validate, write what was accepted and what was not.

Outputs, under <interim>/<corpus>/: records.parquet (accepted records), quarantine.jsonl (every refused
unit with its source, raw text and reason) and report.json (counts per file and reason, the GX summary,
the batch checks). A batch check at "fail" fails the stage after the files are written, so the person
reading the error can open the report and the quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mtl.config import Params
from mtl.corpora.formats import FORMATS
from mtl.records import Record, Rejection
from mtl.validation import CorpusValidation, failures, validate_corpus, write_quarantine

RECORD_SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("task", pa.string()),
        ("split", pa.string()),
        ("tokens", pa.list_(pa.string())),
        ("tags", pa.list_(pa.string())),
        ("label", pa.string()),
        ("source", pa.string()),
    ]
)


class IngestFailed(Exception):
    """A batch-level check at 'fail' fired; the message says which, for which corpus, with examples."""


@dataclass(frozen=True)
class IngestResult:
    corpus: str
    output_dir: Path
    validation: CorpusValidation


def read_corpus(name: str, params: Params) -> tuple[dict[str, list[Record]], list[Rejection]]:
    """Read every file of a corpus with its format's reader: records per split, and the readers' rejections."""
    corpus = params.corpora[name]
    reader = FORMATS[corpus.format]
    records: dict[str, list[Record]] = {}
    rejections: list[Rejection] = []
    for split, file in corpus.files.items():
        path = params.raw_dir / name / file.path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run `mtl corpora pull {name}` first")
        records[split] = []
        for item in reader.read(
            path,
            corpus.reader_options(split),
            corpus=name,
            task=corpus.task,
            split=split,
            max_line_bytes=params.validation.max_line_bytes,
        ):
            if isinstance(item, Record):
                records[split].append(item)
            else:
                rejections.append(item)
    return records, rejections


def ingest(name: str, params: Params) -> IngestResult:
    if name not in params.corpora:
        raise KeyError(f"no corpus {name!r} in params; known: {sorted(params.corpora)}")
    corpus = params.corpora[name]
    records, rejections = read_corpus(name, params)
    validation = validate_corpus(
        name,
        records,
        rejections,
        files={split: file.path for split, file in corpus.files.items()},
        task_name=corpus.task,
        task=params.tasks[corpus.task],
        config=params.validation,
    )

    output_dir = params.interim_dir / name
    output_dir.mkdir(parents=True, exist_ok=True)
    write_records(output_dir / "records.parquet", validation.accepted)
    write_quarantine(output_dir / "quarantine.jsonl", validation.quarantined)
    (output_dir / "report.json").write_text(json.dumps(validation.report, indent=2, ensure_ascii=False) + "\n")

    failed = failures(validation)
    if failed:
        raise IngestFailed("\n".join(issue.message for issue in failed))
    return IngestResult(name, output_dir, validation)


def write_records(path: Path, records_by_split: dict[str, list[Record]]) -> None:
    rows = [record for split in sorted(records_by_split) for record in records_by_split[split]]
    table = pa.Table.from_pydict(
        {
            "uid": [r.uid for r in rows],
            "task": [r.task for r in rows],
            "split": [r.split for r in rows],
            "tokens": [r.tokens for r in rows],
            "tags": [r.tags for r in rows],
            "label": [r.label for r in rows],
            "source": [r.source for r in rows],
        },
        schema=RECORD_SCHEMA,
    )
    pq.write_table(table, path)


def counts_table(params: Params) -> list[dict]:
    """One row per corpus file from the ingest reports: what was read, accepted and quarantined."""
    rows = []
    for name in params.corpora:
        report = json.loads((params.interim_dir / name / "report.json").read_text())
        for split, entry in report["splits"].items():
            rows.append(
                {
                    "corpus": name,
                    "split": split,
                    "file": entry["file"],
                    "read": entry["read"],
                    "accepted": entry["accepted"],
                    "quarantined": entry["quarantined"],
                }
            )
    return rows
