"""The one configuration: params.yaml parsed once into frozen, typed objects.

Unknown keys are errors (a typo must never silently fall back to a default). Relative paths in
params.yaml are relative to the file itself, so every command works from any copy of the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
CheckAction = Literal["fail", "warn", "off"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- data ---------------------------------------------------------------------------------------


class Paths(Strict):
    raw: str = "data/raw"
    interim: str = "data/interim"
    unified: str = "data/unified"
    run: str = "runs/candidate"  # the candidate: model/, checkpoints/, train_log.csv, eval_log.csv
    reports: str = "reports"  # metrics.json, confusion.md, gate.json, gate.md


class CorpusFile(Strict):
    path: str  # file name under <raw>/<corpus>/ (and under MIRROR/<corpus>/)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    url: str | None = None  # public source, used when no mirror folder is configured
    options: dict[str, Any] = {}  # overrides of the corpus's reader options for this file only


class CorpusConfig(Strict):
    task: str
    format: str
    options: dict[str, Any] = {}
    files: dict[Split, CorpusFile]

    @model_validator(mode="after")
    def _check(self) -> CorpusConfig:
        from mtl.corpora.formats import FORMATS

        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; known: {sorted(FORMATS)}")
        if "train" not in self.files:
            raise ValueError("a corpus needs a train file")
        for split in self.files:
            self.reader_options(split)  # validates the merged options now, not at read time
        return self

    def reader_options(self, split: Split) -> BaseModel:
        from mtl.corpora.formats import FORMATS

        merged = {**self.options, **self.files[split].options}
        return FORMATS[self.format].Options.model_validate(merged)


class TaskConfig(Strict):
    kind: Literal["tagging", "classification"]
    labels: list[str] | None = None  # the label set; learned from train when not given
    scheme: Literal["none", "bio"] = "none"  # tagging: "bio" adds entity-level metrics


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


class UnifyConfig(Strict):
    dev_fraction: float = Field(0.1, gt=0, lt=1)  # carved from train, by uid hash, where a corpus has no dev


# --- model, training ----------------------------------------------------------------------------


class ModelConfig(Strict):
    encoder: Literal["bilstm"] = "bilstm"  # the shared encoder: word embeddings + char CNN -> BiLSTM
    lowercase: bool = True  # the word vocabulary is lowercased; the char CNN still sees case
    min_word_count: int = Field(2, ge=1)  # rarer train words become <unk> (word dropout teaches <unk>)
    word_dim: int = Field(128, ge=1)
    char_dim: int = Field(32, ge=1)
    char_filters: int = Field(64, ge=1)  # char CNN output size per word
    char_kernel: int = Field(3, ge=1)
    max_word_chars: int = Field(20, ge=1)  # longer words are cut for the char CNN
    hidden_size: int = Field(192, ge=1)  # per direction: encoder states are 2 x hidden_size wide
    layers: int = Field(2, ge=1)
    dropout: float = Field(0.25, ge=0, lt=1)
    word_dropout: float = Field(0.05, ge=0, lt=1)  # train-time chance that a word id becomes <unk>
    crf: bool = True  # tagging heads: a linear-chain CRF instead of independent per-token softmaxes


class SamplerConfig(Strict):
    kind: Literal["proportional", "temperature", "uniform"] = "uniform"
    temperature: float = Field(2.0, gt=0)  # p(task) ~ n_train ** (1/T): 1 = proportional, large -> uniform


class TrainingConfig(Strict):
    seed: int = 0
    threads: int | None = Field(None, ge=1)  # torch threads; None = os.cpu_count()
    batch_size: int = Field(1000, ge=1)  # per step, one task's batch of this many batch_unit
    batch_unit: Literal["tokens", "sentences"] = "tokens"  # tokens: padded tokens (B x T) per batch
    pool_size: int = Field(2048, ge=1)  # sentences shuffled together then sorted by length; 1 = no bucketing
    sampler: SamplerConfig = SamplerConfig()
    loss_weights: dict[str, float] = {}  # task -> static loss weight λ; a task not listed weighs 1.0
    lr: float = Field(2e-3, gt=0)  # AdamW peak learning rate
    weight_decay: float = Field(0.01, ge=0)  # on weight matrices only: not embeddings, biases, CRF, queries
    warmup_steps: int = Field(200, ge=0)  # linear warmup from 0 to lr
    schedule: Literal["linear", "cosine", "constant"] = "linear"  # decay after warmup, to min_lr at max_steps
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    clip: float = Field(5.0, gt=0)  # max global gradient norm
    max_steps: int = Field(8000, ge=1)
    max_minutes: float | None = Field(17.0, gt=0)  # wall-clock guard: evaluate, checkpoint and stop past it
    eval_every: int = Field(500, ge=1)  # steps between dev evaluations (also at the last step)
    patience: int = Field(4, ge=1)  # evaluations without a better dev score before stopping early
    checkpoint_every: int = Field(500, ge=1)  # steps between checkpoints (also at the end)
    eval_batch_size: int = Field(128, ge=1)  # sentences per prediction batch
    progress: bool = True  # tqdm bar (shown only on a terminal)


# --- evaluation, gate, registry -----------------------------------------------------------------


class EvaluationConfig(Strict):
    n_bootstrap: int = Field(1000, ge=0)  # bootstrap resamples per task; 0 skips the intervals
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class GateTask(Strict):
    metric: str | None = None  # None: the task kind's default metric (entity_f1 for BIO tagging, else accuracy)
    floor: float = 0.0  # absolute minimum of the metric
    max_drop: float = Field(0.01, ge=0)  # largest allowed drop against the production model, in metric units


class GateConfig(Strict):
    tasks: dict[str, GateTask] = {}  # a trained task without an entry here fails the gate


class RegistryConfig(Strict):
    uri: str = "models/registry"  # a folder relative to params.yaml, or s3://bucket/prefix
    # S3 only; unset -> MTL_S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS itself.
    # Credentials are never configured here: the standard AWS chain (env, profile, instance role).
    endpoint_url: str | None = None  # an S3-compatible server, e.g. http://127.0.0.1:9000
    region: str | None = None  # unset -> AWS_DEFAULT_REGION, AWS_REGION, the profile, us-east-1
    dvc_remote: str | None = None  # a `dvc remote` to push data and models to after a promotion; None: no push


# --- root ---------------------------------------------------------------------------------------


class Params(Strict):
    paths: Paths = Paths()
    corpora: dict[str, CorpusConfig]
    tasks: dict[str, TaskConfig]
    validation: ValidationConfig = ValidationConfig()
    unify: UnifyConfig = UnifyConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig = GateConfig()
    registry: RegistryConfig = RegistryConfig()

    root: Path = Path(".")  # the folder params.yaml lives in; set by load_params

    @model_validator(mode="after")
    def _check_tasks(self) -> Params:
        for name, corpus in self.corpora.items():
            if corpus.task not in self.tasks:
                raise ValueError(f"corpus {name!r}: task {corpus.task!r} is not declared under tasks")
        return self

    @model_validator(mode="after")
    def _check_gate(self) -> Params:
        from mtl.tasks import get_kind

        for name, entry in self.gate.tasks.items():
            if name not in self.tasks:
                raise ValueError(f"gate: task {name!r} is not declared under tasks")
            known = get_kind(self.tasks[name].kind).metric_names(self.tasks[name])
            if entry.metric is not None and entry.metric not in known:
                raise ValueError(f"gate.tasks.{name}: unknown metric {entry.metric!r}; known: {known}")
        return self

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


class ConfigError(Exception):
    """params.yaml is missing, unreadable or invalid; the message names the file and the key."""


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return Params.model_validate({**data, "root": path.resolve().parent})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
