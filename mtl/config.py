"""The one configuration: params.yaml parsed once into frozen, typed objects.

Unknown keys are errors, with the nearest valid key suggested: a typo must never silently fall back to a
default. Code defaults equal the shipped params.yaml. Relative paths in params.yaml are relative to the file
itself, so every command works from any copy of the repository, and they must stay inside that folder
(paths.allow_outside_root lifts it). A task's options are validated by its kind (mtl/tasks), a corpus's
reader options by its format (mtl/corpora/formats.py): both sit below this module.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import (BaseModel, ConfigDict, Field, SecretStr, SerializeAsAny, ValidationError, field_validator,
                      model_validator)

from mtl.corpora.formats import FORMATS
from mtl.errors import MtlError
from mtl.tasks import KINDS, TaskOptions, kind_of
from mtl.urls import check_http_url

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
CheckAction = Literal["fail", "warn", "off"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyedError(ValueError):
    """A validation error inside a nested mapping validated by hand (reader options): `path` is where in it."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, path))}: {message}")  # readable where pydantic shows it raw
        self.path, self.message = path, message


# --- data ---------------------------------------------------------------------------------------


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

    chunk_records: int = Field(50_000, ge=1)  # units (records + rejections) per GX batch and per row group written
    shard_records: int = Field(200_000, ge=1)  # accepted records per Parquet shard of <interim>/<corpus>/records/


class UnifyConfig(Strict):
    dev_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train, by uid hash, where a corpus has no dev
    batch_rows: int = Field(16_384, ge=1)  # records per streamed batch and per Parquet row group: bounds memory


class LeakageConfig(Strict):
    """Cross-task leakage (mtl/leakage.py, at unify): texts of one task's dev or test split (or of an extra
    evaluation set) that occur in another task's train split, compared normalised (case, whitespace and
    punctuation folded). Within one task, validation.checks.train_test_overlap stays."""

    action: CheckAction = "warn"  # fail: unify stops (after writing the report); warn: reported; off: not run
    similarity: float = Field(0.8, gt=0, le=1)  # near-duplicate: Jaccard of the two token sets at least this
    min_tokens: int = Field(4, ge=1)  # shorter texts ("Thanks !", "What ?") recur by chance: not counted
    examples: int = Field(5, ge=0)  # worst examples kept per task pair


# --- model --------------------------------------------------------------------------------------


class WordsConfig(Strict):
    """The per-token input of the encoders trained from scratch (bilstm, transformer): [word ; char CNN]."""

    lowercase: bool = True  # the word vocabulary is lowercased; the char CNN still sees case
    min_count: int = Field(2, ge=1)  # rarer train words become <unk> (word dropout teaches <unk>)
    dim: int = Field(128, ge=1)  # word embedding size
    dropout: float = Field(0.05, ge=0, lt=1)  # train-time chance that a word id becomes <unk>
    char_dim: int = Field(32, ge=1)
    char_filters: int = Field(64, ge=1)  # char CNN output size per word
    char_kernel: int = Field(3, ge=1)
    max_chars: int = Field(20, ge=1)  # longer words are cut for the char CNN


class BiLSTMConfig(Strict):
    hidden_size: int = Field(192, ge=1)  # per direction: states are 2 x hidden_size wide
    layers: int = Field(2, ge=1)


class TransformerConfig(Strict):
    layers: int = Field(2, ge=1)  # pre-LN blocks
    d_model: int = Field(256, ge=1)  # state width
    attention_heads: int = Field(4, ge=1)  # must divide d_model
    ff_size: int = Field(1024, ge=1)  # the blocks' MLP width

    @model_validator(mode="after")
    def _check(self) -> TransformerConfig:
        if self.d_model % self.attention_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of attention_heads {self.attention_heads}")
        return self


class PretrainedConfig(Strict):
    # a Hugging Face model folder (relative to params.yaml) or a hub name (the hub only when not offline)
    source: str | None = None
    subword_pooling: Literal["first", "mean"] = "first"  # a word's state: its first piece's, or its pieces' mean
    finetune: bool = False  # false: frozen, only the heads train; true: it trains too, at training.pretrained_lr


class SoftConfig(Strict):
    l2: float = Field(0.001, ge=0)  # weight of sum_t ||θ_t - mean θ||² over the task encoders


class AdversarialConfig(Strict):
    weight: float = Field(0.05, ge=0)  # λ on the task discriminator's loss (gradient reversed into the encoder)
    orthogonality: float = Field(0.01, ge=0)  # γ on ||SᵀP||²_F between shared and private word states


class ModelConfig(Strict):
    # The shared encoder (mtl/model/encoders/), each with its own section: bilstm or transformer over
    # `words` (word embeddings + char CNN), trained from scratch; or pretrained, a Hugging Face encoder.
    encoder: Literal["bilstm", "transformer", "pretrained"] = "bilstm"
    dropout: float = Field(0.25, ge=0, lt=1)  # on the inputs, between layers and on the encoder states
    # How raw text becomes tokens at prediction time (mtl/corpora/tokenize.py), recorded in the model folder:
    # treebank matches the PTB/UD tokenization of the shipped corpora ("do n't"); wordpunct gave "don ' t".
    tokenizer: Literal["whitespace", "wordpunct", "treebank"] = "treebank"
    words: WordsConfig = WordsConfig()
    bilstm: BiLSTMConfig = BiLSTMConfig()
    transformer: TransformerConfig = TransformerConfig()
    pretrained: PretrainedConfig = PretrainedConfig()
    # How the tasks share parameters (mtl/model/sharing/), each scheme with its own section where it has knobs.
    sharing: Literal["hard", "soft", "adversarial", "attention"] = "attention"
    soft: SoftConfig = SoftConfig()
    adversarial: AdversarialConfig = AdversarialConfig()

    @model_validator(mode="after")
    def _check_encoder(self) -> ModelConfig:
        if self.encoder == "pretrained" and not self.pretrained.source:
            raise ValueError("encoder pretrained needs model.pretrained.source: a model folder or a hub name")
        return self


# --- training -----------------------------------------------------------------------------------


class SamplerConfig(Strict):
    """Which task a one-task step trains (mtl/training/samplers.py). window: the sampling "epoch"."""

    kind: Literal["proportional", "temperature", "uniform", "annealed", "explicit"] = "uniform"
    temperature: float = Field(2.0, gt=0)  # p(task) ~ n_train ** (1/T): 1 = proportional, large -> uniform
    anneal_from: float = Field(1.0, gt=0)  # annealed: T of the first window (1 = proportional)
    anneal_to: float = Field(5.0, gt=0)  # annealed: T of the last window; 1 -> 5 is Stickland & Murray 2019
    probabilities: dict[str, float] = {}  # explicit: task -> p, naming every task, summing to 1
    window: int = Field(500, ge=1)  # steps per window: one annealing stage and one task_mix.csv group

    @model_validator(mode="after")
    def _check_probabilities(self) -> SamplerConfig:
        if self.kind != "explicit":
            if self.probabilities:
                raise ValueError(f"probabilities are for kind explicit, not {self.kind!r}")
            return self
        if not self.probabilities:
            raise ValueError("kind explicit needs probabilities: {task: p} for every task")
        if any(not p > 0 for p in self.probabilities.values()):
            raise ValueError(f"probabilities must be > 0 (drop the task from tasks instead): {self.probabilities}")
        if abs(sum(self.probabilities.values()) - 1.0) > 1e-6:
            raise ValueError(f"probabilities must sum to 1, not {sum(self.probabilities.values()):.6g}")
        return self


class WeightingConfig(Strict):
    """How a step's task losses become one update (mtl/training/weighting/). static takes one sampled task
    per step; the others take one batch of every task per step, so they need sampler kind uniform."""

    kind: Literal["static", "uncertainty", "dwa", "gradnorm", "pcgrad"] = "static"
    temperature: float = Field(2.0, gt=0)  # dwa: w ~ exp(r / T) (Liu et al. 2019 use 2)
    window: int = Field(50, ge=1)  # dwa: steps whose mean loss is one point of the loss history (its "epoch")
    alpha: float = Field(1.5, ge=0)  # gradnorm: pull toward equal training rates (Chen et al. 2018: 0.12-3)


class TrainingConfig(Strict):
    seed: int = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")  # auto: CUDA when available, else CPU
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # the forward pass under autocast (mtl/training/device.py)
    compile: bool = False  # torch.compile the encoder(s): for transformer-shaped encoders on a GPU; on the CPU the
                           # compilation of every batch shape costs more than it saves (79 s for a tiny model)
    # data-parallel processes on this machine (torchrun; mtl/training/distributed.py): one, right for one GPU; the
    # shipped params.yaml sets 2 for the 2-core CPU machines
    processes: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1)  # torch threads per process; None = the cores / processes
    batch_size: int = Field(2000, ge=1)  # per step, one task's batch of this many batch_unit (shared by processes)
    batch_unit: Literal["tokens", "sentences"] = "tokens"  # tokens: padded tokens (B x T) per batch
    pool_size: int = Field(2048, ge=1)  # sentences shuffled together then sorted by length; 1 = no bucketing
    prefetch: int = Field(2, ge=0)  # steps' batches a background thread prepares ahead (training/prefetch.py); 0: none
    sampler: SamplerConfig = SamplerConfig()
    loss_weights: dict[str, float] = {}  # task -> static loss weight λ; a task not listed weighs 1.0
    weighting: WeightingConfig = WeightingConfig()  # static (λ above), uncertainty, dwa, gradnorm or pcgrad
    lr: float = Field(3e-3, gt=0)  # AdamW peak learning rate
    pretrained_lr: float | None = Field(None, gt=0)  # peak lr of a fine-tuned pretrained encoder's weights; None: lr
    weight_decay: float = Field(0.01, ge=0)  # on weight matrices only: not embeddings, biases, CRF, queries
    warmup_steps: int = Field(200, ge=0)  # linear warmup from 0 to lr
    schedule: Literal["linear", "cosine", "constant"] = "linear"  # decay after warmup, to min_lr at max_steps
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    clip: float = Field(5.0, gt=0)  # max global gradient norm
    max_steps: int = Field(3000, ge=1)
    max_minutes: float | None = Field(30.0, gt=0)  # wall-clock guard: evaluate, checkpoint and stop past it
    eval_every: int = Field(500, ge=1)  # steps between dev evaluations (also at the last step)
    patience: int = Field(8, ge=1)  # evaluations without a better dev score before stopping early
    checkpoint_every: int = Field(500, ge=1)  # steps between checkpoints (also at the end)
    eval_batch_size: int = Field(128, ge=1)  # examples per prediction batch
    progress_seconds: float = Field(60.0, gt=0)  # a progress line (step, steps/s, ETA, last dev scores) this often

    @model_validator(mode="after")
    def _check_weighting(self) -> TrainingConfig:
        kind = self.weighting.kind
        if kind != "static" and self.sampler.kind != "uniform":
            raise ValueError(f"weighting {kind!r} trains one batch of every task per step, so the sampler "
                             f"must be uniform, not {self.sampler.kind!r}")
        if self.loss_weights and kind not in ("static", "pcgrad"):
            raise ValueError(f"weighting {kind!r} learns its own task weights: leave loss_weights empty")
        if self.processes > 1:
            refuse_many_processes(kind)
        return self


SINGLE_PROCESS_WEIGHTINGS = ("gradnorm", "pcgrad", "dwa")  # each rank would weigh or project its own share's
                                                          # task gradients (or loss history) differently


def refuse_many_processes(weighting: str) -> None:
    if weighting in SINGLE_PROCESS_WEIGHTINGS:
        raise ValueError(f"weighting {weighting!r} needs every task's whole-batch gradients (or losses) in one "
                         "process: train with one process, or with weighting static or uncertainty")


class BaselineConfig(Strict):
    """Single-task baselines (`mtl baseline`, mtl/baseline.py) and the transfer report (`mtl transfer`)."""

    # examples: as many steps as the multi-task run's sampler plans for that task, so each model sees as
    # many of the task's examples as the multi-task model did: the difference is what sharing adds.
    # steps: every single-task model trains with training.max_steps (and the same time guard and early
    # stopping) as the multi-task model had for all tasks: the task trained alone to its best, N x compute.
    budget: Literal["steps", "examples"] = "examples"
    n_bootstrap: int = Field(2000, ge=100)  # paired resamples per task: multi-task minus single-task
    confidence: float = Field(0.95, gt=0, lt=1)  # of each task's interval (no correction across tasks)
    seed: int = 0
    timing_repeats: int = Field(3, ge=1)  # prediction timing: best of this many, models side by side
    timing_sentences: int | None = Field(None, ge=1)  # test sentences timed, taken round-robin by task; None: all


# --- evaluation, gate, registry -----------------------------------------------------------------


class ExtraSet(Strict):
    """A corpus (declared under corpora, with its task) scored beside dev and test and never trained on."""

    # The corpus's labels -> the task's, applied as it is ingested; null: no counterpart. For a BIO task a key
    # may be an entity type (PER: person maps B-PER and I-PER), and a type without counterpart becomes O; a
    # tag or label without counterpart otherwise quarantines its record (reason "no_counterpart").
    labels: dict[str, str | None] = {}


class EvaluationConfig(Strict):
    n_bootstrap: int = Field(1000, ge=0)  # bootstrap resamples per task; 0 skips the intervals
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0
    extra: dict[str, ExtraSet] = {}  # corpus name -> how its labels map onto its task's (README: extra sets)


class GateTask(Strict):
    metric: str | None = None  # None: the task kind's primary metric
    floor: float  # the candidate's point estimate on test must reach it (for a lower-is-better metric: a ceiling)
    max_drop: float = Field(0.01, ge=0)  # largest allowed drop against the production model, in metric units
    min_examples: int | None = Field(None, ge=1)  # None: gate.min_examples


class GateConfig(Strict):
    # The paired comparison with production (see mtl/gate.py): a bootstrap of candidate - production over
    # the same test examples, with Holm's correction across the compared tasks at this family-wise level.
    confidence: float = Field(0.95, gt=0, lt=1)
    n_bootstrap: int = Field(2000, ge=200)  # paired resamples per task; Holm's levels need the far tails
    seed: int = 0
    min_examples: int = Field(300, ge=1)  # fewer test examples than this: inconclusive, not judged
    inconclusive: Literal["block", "allow"] = "block"  # what an inconclusive task does to the candidate
    tasks: dict[str, GateTask]  # every task needs one: a deliberate floor before it can reach production
    # Extra evaluation sets the gate judges too (corpus name -> floor, max_drop against production on the same
    # set), as rows "<task>@<corpus>" in the same Holm family; an extra set not named here is only reported.
    extra: dict[str, GateTask] = {}


class DriftConfig(Strict):
    """The candidate's training data against production's, per task (mtl/drift.py, at the gate): label shift
    (chi-square test; total variation distance), sentence lengths (Kolmogorov-Smirnov) and the share of tokens
    production's training data never had. A shift counts when its test's p-value is below p_value AND its size
    passes its threshold (on large corpora any change is "significant")."""

    action: Literal["warn", "block", "off"] = "warn"  # block: a drifted task fails the gate, the reason in it
    p_value: float = Field(0.01, gt=0, lt=1)
    max_label_shift: float = Field(0.1, ge=0, le=1)  # total variation distance of the label distributions
    max_length_shift: float = Field(0.1, ge=0, le=1)  # Kolmogorov-Smirnov statistic of the sentence lengths
    max_unseen: float = Field(0.05, ge=0, le=1)  # share of train token occurrences new to production's data
    movers: int = Field(5, ge=1)  # labels listed per task, largest change of share first


class RegistryConfig(Strict):
    uri: str = "models/registry"  # a folder relative to params.yaml, an absolute folder, or s3://bucket/prefix
    # S3 only; unset -> MTL_S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS itself.
    # Credentials are never configured here: the standard AWS chain (env, profile, instance role).
    endpoint_url: str | None = None  # an S3-compatible server, e.g. http://127.0.0.1:9000
    region: str | None = None  # unset -> AWS_DEFAULT_REGION, AWS_REGION, the profile, us-east-1
    dvc_remote: str | None = None  # a `dvc remote` to push data and models to after a promotion; None: no push
    # gc (each promotion, `mtl registry gc`) removes incomplete versions and temporary files this much older
    # than now: longer than the slowest publish, which may still be writing them.
    gc_grace_hours: float = Field(24.0, gt=0)


# --- schedule, notify ---------------------------------------------------------------------------

RetrainEvent = Literal[
    "mtl.retrain.skipped", "mtl.model.refused", "mtl.model.unchanged", "mtl.model.promoted", "mtl.retrain.failed"
]


class ScheduleConfig(Strict):
    cron: str = "0 3 * * *"  # when the scheduled retrain runs (`mtl schedule`, prefect.yaml)
    timezone: str = "UTC"  # IANA name, e.g. Europe/Berlin
    deployment: str = "nightly"  # the Prefect deployment's name (flow "retrain")
    work_pool: str = "mtl-process"  # the work pool of the prefect.yaml deployment (`prefect deploy`)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name such as UTC or Europe/Berlin)") from None
        return value


class DataFlowConfig(Strict):
    """How the dataset flow (flows/dataset.py) runs the ingest stages that DVC finds out of date."""

    task_runner: Literal["sequential", "dask"] = "sequential"  # dask: the outdated corpora's ingest in parallel
    dask_address: str | None = None  # a running Dask scheduler (tcp://host:8786); None: a local cluster
    dask_workers: int = Field(2, ge=1)  # the local cluster's worker processes (when no address)


class NotifyConfig(Strict):
    # A URL that receives a JSON POST per event below. MTL_NOTIFY_WEBHOOK, when set, wins: keep a URL
    # that carries a secret out of params.yaml (params are copied into every registry version's lineage).
    # A SecretStr: dumped params (lineage, a flow run's parameters) show it as **********.
    webhook: SecretStr | None = None
    events: list[RetrainEvent] = ["mtl.model.promoted", "mtl.retrain.failed"]
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("webhook")
    @classmethod
    def _check_webhook(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            check_http_url(url.get_secret_value())  # its message shows the URL redacted
        return url


# --- root ---------------------------------------------------------------------------------------


class ServeConfig(Strict):
    """`mtl serve` (mtl/serve/): the HTTP service over a registry alias, micro-batched."""

    host: str = "127.0.0.1"  # what `mtl serve` binds without --host; 0.0.0.0 to listen on every interface
    port: int = Field(8000, ge=0, le=65535)
    poll_seconds: float = Field(10.0, gt=0)  # how often the followed alias is re-resolved
    max_batch_sentences: int = Field(64, ge=1)  # concurrent requests' sentences taken into one pass
    encoder_call_tokens: float = Field(80.0, ge=0)  # a call's fixed cost in padded tokens: where a pass is cut
    max_wait_ms: float = Field(2.0, ge=0)  # how long a pass waits for the clients it just answered
    max_queue_sentences: int = Field(4096, ge=1)  # sentences waiting; past it 503 with Retry-After
    max_sentences_per_request: int = Field(256, ge=1)  # past it 413
    max_tokens_per_sentence: int = Field(512, ge=1)  # past it 413 (validation.max_tokens's default)
    max_request_bytes: int = Field(1_000_000, ge=1)  # Content-Length past it: 413
    request_timeout_seconds: float = Field(30.0, gt=0)  # waiting for the pass past it: 504
    retry_after_seconds: int = Field(1, ge=0)  # the Retry-After of a 503
    threads: int | None = Field(None, ge=1)  # torch threads for prediction; None = torch's default


class Params(Strict):
    paths: Paths = Paths()
    corpora: dict[str, CorpusConfig]
    tasks: dict[str, SerializeAsAny[TaskOptions]]  # each its kind's options model (parse_task)
    validation: ValidationConfig = ValidationConfig()
    ingest: IngestConfig = IngestConfig()
    unify: UnifyConfig = UnifyConfig()
    leakage: LeakageConfig = LeakageConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    baseline: BaselineConfig = BaselineConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig
    drift: DriftConfig = DriftConfig()
    registry: RegistryConfig = RegistryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    data_flow: DataFlowConfig = DataFlowConfig()
    notify: NotifyConfig = NotifyConfig()
    serve: ServeConfig = ServeConfig()

    root: Path = Path(".")  # the folder params.yaml lives in; set by load_params

    @field_validator("tasks", mode="before")
    @classmethod
    def _parse_tasks(cls, tasks: Any) -> Any:
        if not isinstance(tasks, dict):
            return tasks
        return {name: parse_task(name, value) for name, value in tasks.items()}

    @model_validator(mode="after")
    def _check_tasks(self) -> Params:
        extra = self.evaluation.extra
        fed = {corpus.task for name, corpus in self.corpora.items() if name not in extra}
        for name, corpus in self.corpora.items():
            if corpus.task not in self.tasks:
                raise KeyedError(("corpora", name, "task"), f"task {corpus.task!r} is not declared under tasks")
            if name not in extra and "train" not in corpus.splits():
                raise KeyedError(("corpora", name, "files"), "a corpus needs train data (a train file, or a "
                                 "split_map value train), unless it is an extra evaluation set (evaluation.extra)")
        for name in extra:
            if name not in self.corpora:
                raise KeyedError(("evaluation", "extra", name), "not a corpus: declare it under corpora (with its "
                                 "task, format and files)")
        for name, entry in self.gate.extra.items():
            if name not in extra:
                raise KeyedError(("gate", "extra", name), "not an extra evaluation set: add it to evaluation.extra")
            task = self.tasks[self.corpora[name].task]
            known = kind_of(task).metric_names(task)
            if entry.metric is not None and entry.metric not in known:
                raise KeyedError(("gate", "extra", name, "metric"), f"unknown metric {entry.metric!r}; known: {known}")
        for name in self.tasks:
            if name not in fed:
                raise KeyedError(("tasks", name), "no corpus feeds this task: add one under corpora (task: "
                                 f"{name}) or remove the task")
            if name not in self.gate.tasks:
                raise KeyedError(("gate", "tasks"), f"task {name!r} has no gate entry: add gate.tasks.{name} "
                                 "with a floor (and max_drop) before it can reach production")
        for name, entry in self.gate.tasks.items():
            if name not in self.tasks:
                raise KeyedError(("gate", "tasks", name), f"task {name!r} is not declared under tasks")
            known = kind_of(self.tasks[name]).metric_names(self.tasks[name])
            if entry.metric is not None and entry.metric not in known:
                raise KeyedError(("gate", "tasks", name, "metric"), f"unknown metric {entry.metric!r}; known: {known}")
        for section, names in (("training.loss_weights", self.training.loss_weights),
                               ("training.sampler.probabilities", self.training.sampler.probabilities)):
            unknown = sorted(set(names) - set(self.tasks))
            if unknown:
                raise KeyedError(tuple(section.split(".")), f"names tasks that are not configured: {unknown}")
        return self

    @model_validator(mode="after")
    def _check_paths(self) -> Params:
        if self.paths.allow_outside_root:
            return self
        for key in FOLDERS:
            inside_root(self.root, getattr(self.paths, key), ("paths", key))
        for name, corpus in self.corpora.items():
            for file_name, file in corpus.files.items():
                folder = self.root / self.paths.raw / name
                if Path(file.path).is_absolute() or not _within(folder, folder / file.path):
                    raise KeyedError(("corpora", name, "files", file_name, "path"),
                                     f"{file.path!r} leaves the corpus's folder {self.paths.raw}/{name}/: give a "
                                     "file name (set paths.allow_outside_root: true to read files elsewhere)")
        uri = self.registry.uri
        if "://" not in uri and not Path(uri).expanduser().is_absolute():
            inside_root(self.root, uri, ("registry", "uri"))  # an absolute folder is a deliberate choice
        return self

    def report(self, name: str) -> Path:
        """A report file by its paths key: params.report("gate_table") -> <root>/reports/gate.md."""
        return self.reports_dir / getattr(self.paths, name)

    def run_file(self, name: str, run_dir: Path | None = None) -> Path:
        """A file of a training run's folder (the candidate's by default) by its paths key."""
        return (run_dir or self.run_dir) / getattr(self.paths, name)

    @property
    def raw_dir(self) -> Path:
        return self.root / self.paths.raw

    @property
    def interim_dir(self) -> Path:
        return self.root / self.paths.interim

    @property
    def unified_dir(self) -> Path:
        return self.root / self.paths.unified

    @property
    def run_dir(self) -> Path:
        return self.root / self.paths.run

    @property
    def reports_dir(self) -> Path:
        return self.root / self.paths.reports


def inside_root(root: Path, value: str, key: tuple[str, ...]) -> None:
    """A relative path of params must resolve (symlinks followed) inside params.yaml's folder."""
    if Path(value).is_absolute() or not _within(root, root / value):
        raise KeyedError(key, f"{value!r} resolves outside the project folder {root} (set "
                         "paths.allow_outside_root: true if that is deliberate)")


def _within(folder: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


class ConfigError(MtlError):
    """params.yaml is missing, unreadable or invalid; the message names the file and the key."""


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return Params.model_validate({**data, "root": path.resolve().parent})
    except ValidationError as error:
        raise ConfigError(f"{path}: " + "; ".join(_describe(e, data) for e in error.errors())) from None


def _describe(error: dict, data: dict) -> str:
    """One error as `dotted.key: message`, the key as written in params (the kinds' union tag dropped), with
    the nearest valid key suggested for an unknown one."""
    loc = [str(part) for part in error["loc"]]
    message = error["msg"].removeprefix("Value error, ")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedError):
        loc += [str(part) for part in cause.path]
        message = cause.message
    if error["type"] == "extra_forbidden":
        hint = _nearest_key(loc)
        message = "unknown key" + (f"; did you mean {hint!r}?" if hint else "")
    return f"{'.'.join(loc) or '<top>'}: {message}"


def _nearest_key(loc: list[str]) -> str | None:
    """The valid key nearest to the unknown last one of `loc`, found by walking the models along it."""
    model: Any = Params
    parts = iter(loc[:-1])
    for part in parts:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        model = _model_of(field.annotation)
        if model is not field.annotation:
            next(parts, None)  # a dict's key (a corpus, a task): the model applies to its value
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    known = [name for name in model.model_fields if name != "root"]
    found = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
    return found[0] if found else None


def _model_of(annotation: Any) -> Any:
    """The model a field holds: itself, or the value model of a dict (a corpus, a task)."""
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return annotation
