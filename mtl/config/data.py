"""The data sections: where files live, the corpora and their readers' options, validation, ingest, unify, leakage,
and how the dataset flow runs."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from mtl.config.base import SPLITS, CheckAction, KeyedError, Strict
from mtl.corpora.formats import FORMATS
from mtl.tasks import KINDS, TaskOptions



class Paths(Strict):
    """Every folder and file the stages read and write: the one place that names them. dvc.yaml reads them from
    params.yaml, the code from here. Folders are relative to params.yaml's folder, files to their folder."""

    raw: str = "data/raw"  # DVC-tracked corpora, one folder per corpus
    interim: str = "data/interim"  # one folder per corpus, holding:
    records: str = "records"  # its accepted records: a folder of Parquet shards, part-00000.parquet, ...
    quarantine: str = "quarantine.jsonl"  # its refused units
    ingest_report: str = "report.json"  # its counts per file, split and reason
    unified: str = "data/unified"  # the task-tagged dataset: <split>.parquet, and:
    labels: str = "labels.json"  # per task: kind, label vocabulary, options
    manifest: str = "manifest.json"  # counts, hashes, carved dev splits
    data_stats: str = "stats.json"  # per task: label, length and token statistics of train (drift's input)
    leakage: str = "leakage.json"  # texts of one task's dev/test (or an extra set) found in another task's train
    extra: str = "extra"  # the extra evaluation sets: <extra>/<corpus>.parquet, never trained on
    run: str = "runs/candidate"  # the candidate (and any training run's folder), holding:
    model: str = "model"  # the best model
    checkpoints: str = "checkpoints"  # resume state
    train_log: str = "train_log.csv"
    eval_log: str = "eval_log.csv"
    task_mix: str = "task_mix.csv"
    training: str = "training.json"  # how training ran and stopped
    baselines: str = "baselines"  # single-task runs, one folder per task
    reports: str = "reports"  # the reports:
    metrics: str = "metrics.json"  # the candidate's evaluation, dev, test and the extra sets
    headline: str = "headline.json"  # one primary metric per task and split: what DVC tracks as metrics
    confusion: str = "confusion.md"
    gate: str = "gate.json"  # the gate's decision
    gate_table: str = "gate.md"
    production_metrics: str = "production_metrics.json"  # production re-scored on the candidate's test data
    drift: str = "drift.json"  # the candidate's training data against production's, per task
    report: str = "report.html"  # the page a person opens: curves, scores, gate, drift, leakage, history
    plots_template: str = "plots_template.html"  # `dvc plots show`'s HTML page, Vega inline (.dvc/config)
    transfer: str = "transfer.json"  # multi-task vs single-task
    transfer_table: str = "transfer.md"
    allow_outside_root: bool = False  # let the folders, corpus files and a registry folder leave params.yaml's folder

    @model_validator(mode="after")
    def _plain_file_names(self) -> Paths:
        for key in ("records", "quarantine", "ingest_report", "labels", "manifest", "data_stats", "leakage", "extra",
                    "model", "checkpoints", "train_log", "eval_log", "task_mix", "training", "baselines", "metrics",
                    "headline", "confusion", "gate", "gate_table", "production_metrics", "drift", "report",
                    "plots_template", "transfer", "transfer_table"):
            name = getattr(self, key)
            if not name or "/" in name or "\\" in name or name in (".", ".."):
                raise KeyedError((key,), f"{name!r} must be a plain file or folder name inside its folder")
        return self

FOLDERS = ("raw", "interim", "unified", "run", "reports")


class CorpusFile(Strict):
    path: str  # file name under <raw>/<corpus>/ (and under MIRROR/<mirror_name>/)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    url: str | None = None  # public source, used when no mirror folder is configured
    options: dict[str, Any] = {}  # overrides of the corpus's reader options for this file only


class CorpusConfig(Strict):
    task: str
    format: str
    options: dict[str, Any] = {}
    # split -> file; or, when the reader takes each row's split from a column (delimited split_column), any
    # name -> file, one file feeding several splits
    files: dict[str, CorpusFile]
    mirror_name: str | None = None  # its folder in the mirror (MIRROR/<mirror_name>/); default: the corpus name

    @model_validator(mode="after")
    def _check(self) -> CorpusConfig:
        if self.format not in FORMATS:
            raise KeyedError(("format",), f"unknown format {self.format!r}; known: {sorted(FORMATS)}")
        for name in self.files:
            options = self.reader_options(name)  # validates the merged options now, not at read time
            if getattr(options, "split_column", None) is None and name not in SPLITS:
                raise KeyedError(("files", name), f"{name!r} is not a split ({', '.join(SPLITS)}); a file "
                                 "feeding several splits needs the reader's split_column and split_map")
        if not self.splits():
            raise KeyedError(("files",), "a corpus needs at least one file")
        return self

    def splits(self) -> list[str]:
        """The splits its files feed (their names, or the values of a split column's map), in SPLITS order."""
        found: set[str] = set()
        for name in self.files:
            split_map = getattr(self.reader_options(name), "split_map", None)
            found |= set(split_map.values()) if split_map else {name}
        return [split for split in SPLITS if split in found]

    def reader_options(self, name: str) -> Any:
        """The reader options of file `name`: the corpus's, overridden by the file's own."""
        own = self.files[name].options
        options_model = FORMATS[self.format].Options
        try:
            return options_model.model_validate({**self.options, **own})
        except ValidationError as error:
            first = error.errors()[0]
            key = str(first["loc"][0]) if first["loc"] else ""  # deeper parts are pydantic's union tags
            where = ("files", name, "options") if key in own else ("options",)
            message = first["msg"]
            if first["type"] == "extra_forbidden":
                hint = difflib.get_close_matches(key, list(options_model.model_fields), n=1, cutoff=0.6)
                message = f"unknown option of format {self.format}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            raise KeyedError((*where, key) if key else where, message) from None


def parse_task(name: str, value: Any) -> TaskOptions:
    """A task's params as its kind's options model (looked up when params load, so a kind registered in KINDS
    at any time is configurable)."""
    if isinstance(value, TaskOptions):
        return value
    if not isinstance(value, dict):
        raise KeyedError((name,), "expected a mapping with a kind")
    if value.get("kind") not in KINDS:
        raise KeyedError((name, "kind"), f"unknown task kind {value.get('kind')!r}; known: {sorted(KINDS)}")
    options = KINDS[value["kind"]].Options
    try:
        return options.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        key = [str(part) for part in first["loc"]]
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key[-1], list(options.model_fields), n=1, cutoff=0.6)
            message = f"unknown option of kind {value['kind']}" + (f"; did you mean {hint[0]!r}?" if hint else "")
        raise KeyedError((name, *key), message) from None


class ValidationChecks(Strict):
    quarantine_fraction: CheckAction = "fail"
    empty_split: CheckAction = "fail"
    unseen_label: CheckAction = "warn"  # a dev/test label never seen in train
    train_test_overlap: CheckAction = "warn"  # exact duplicate texts between train and test


class ValidationConfig(Strict):
    max_quarantine_fraction: float = Field(0.01, ge=0, le=1)
    min_tokens: int = Field(1, ge=1)
    max_tokens: int = Field(512, ge=1)
    max_line_bytes: int = Field(1_000_000, ge=1)  # a longer line is quarantined unread
    checks: ValidationChecks = ValidationChecks()


class IngestConfig(Strict):
    """How `mtl ingest` streams a corpus: its memory is a function of these, not of the corpus's size."""

    chunk_records: int = Field(10_000, ge=1)  # units (records + rejections) per GX batch and per row group written
    shard_records: int = Field(200_000, ge=1)  # accepted records per Parquet shard of <interim>/<corpus>/records/


class UnifyConfig(Strict):
    dev_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train, by uid hash, where a corpus has no dev
    batch_rows: int = Field(16_384, ge=1)  # records per streamed batch and per Parquet row group: bounds memory


class LeakageConfig(Strict):
    """Cross-task leakage (mtl/leakage, at unify): texts of one task's dev or test split (or of an extra
    evaluation set) that occur in another task's train split, compared normalised (case, whitespace and
    punctuation folded). Within one task, validation.checks.train_test_overlap stays."""

    action: CheckAction = "warn"  # fail: unify stops (after writing the report); warn: reported; off: not run
    similarity: float = Field(0.8, gt=0, le=1)  # near-duplicate: Jaccard of the two token sets at least this
    min_tokens: int = Field(4, ge=1)  # shorter texts ("Thanks !", "What ?") recur by chance: not counted
    examples: int = Field(5, ge=0)  # worst examples kept per task pair


class DataFlowConfig(Strict):
    """How the dataset flow (flows/dataset.py) runs the ingest stages that DVC finds out of date."""

    task_runner: Literal["sequential", "dask"] = "sequential"  # dask: the outdated corpora's ingest in parallel
    dask_address: str | None = None  # a running Dask scheduler (tcp://host:8786); None: a local cluster
    dask_workers: int = Field(2, ge=1)  # the local cluster's worker processes (when no address)
