"""The one configuration: params.yaml parsed once into frozen, typed objects.

Unknown keys are errors (a typo must never silently fall back to a default). Relative paths in
params.yaml are relative to the file itself, so every command works from any copy of the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    # The shared encoder (mtl/model/encoders/): bilstm or transformer over word embeddings + char CNN,
    # trained from scratch; or pretrained, a Hugging Face encoder whose sub-word states are pooled per word.
    encoder: Literal["bilstm", "transformer", "pretrained"] = "bilstm"
    lowercase: bool = True  # the word vocabulary is lowercased; the char CNN still sees case
    min_word_count: int = Field(2, ge=1)  # rarer train words become <unk> (word dropout teaches <unk>)
    word_dim: int = Field(128, ge=1)
    char_dim: int = Field(32, ge=1)
    char_filters: int = Field(64, ge=1)  # char CNN output size per word
    char_kernel: int = Field(3, ge=1)
    max_word_chars: int = Field(20, ge=1)  # longer words are cut for the char CNN
    hidden_size: int = Field(192, ge=1)  # per direction: encoder states are 2 x hidden_size wide
    layers: int = Field(2, ge=1)  # BiLSTM or Transformer layers
    dropout: float = Field(0.25, ge=0, lt=1)
    word_dropout: float = Field(0.05, ge=0, lt=1)  # train-time chance that a word id becomes <unk>
    crf: bool = True  # tagging heads: a linear-chain CRF instead of independent per-token softmaxes
    # transformer: pre-LN blocks with sinusoidal positions over the same word + char embeddings
    d_model: int = Field(256, ge=1)  # encoder states are d_model wide
    attention_heads: int = Field(4, ge=1)  # must divide d_model
    ff_size: int = Field(1024, ge=1)  # the blocks' MLP width
    # pretrained: a folder (relative to params.yaml) or a hub name (the hub only when not offline)
    pretrained: str | None = None
    subword_pooling: Literal["first", "mean"] = "first"  # a word's state: its first piece's, or its pieces' mean
    finetune: bool = False  # false: the encoder is frozen, only the heads train; true: it trains too
    # How the tasks share parameters (mtl/model/sharing/): hard, one shared encoder (the default); soft, an
    # encoder per task pulled together by an L2 penalty; adversarial, shared + private encoders (Liu et al.
    # 2017); attention, one shared encoder whose layers each task mixes with its own softmax weights.
    sharing: Literal["hard", "soft", "adversarial", "attention"] = "hard"
    soft_l2: float = Field(0.001, ge=0)  # soft: weight of sum_t ||θ_t - mean θ||² over the task encoders
    adversarial_weight: float = Field(0.05, ge=0)  # adversarial: λ on the task discriminator's loss
    orthogonality_weight: float = Field(0.01, ge=0)  # adversarial: γ on ||SᵀP||²_F, shared vs private states

    @model_validator(mode="after")
    def _check_encoder(self) -> ModelConfig:
        if self.encoder == "transformer" and self.d_model % self.attention_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of attention_heads {self.attention_heads}")
        if self.encoder == "pretrained" and not self.pretrained:
            raise ValueError("encoder pretrained needs model.pretrained: a model folder or a hub name")
        return self


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
    threads: int | None = Field(None, ge=1)  # torch threads; None = os.cpu_count()
    batch_size: int = Field(1000, ge=1)  # per step, one task's batch of this many batch_unit
    batch_unit: Literal["tokens", "sentences"] = "tokens"  # tokens: padded tokens (B x T) per batch
    pool_size: int = Field(2048, ge=1)  # sentences shuffled together then sorted by length; 1 = no bucketing
    sampler: SamplerConfig = SamplerConfig()
    loss_weights: dict[str, float] = {}  # task -> static loss weight λ; a task not listed weighs 1.0
    weighting: WeightingConfig = WeightingConfig()  # static (λ above), uncertainty, dwa, gradnorm or pcgrad
    lr: float = Field(2e-3, gt=0)  # AdamW peak learning rate
    pretrained_lr: float | None = Field(None, gt=0)  # peak lr of a fine-tuned pretrained encoder's weights; None: lr
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

    @model_validator(mode="after")
    def _check_weighting(self) -> TrainingConfig:
        kind = self.weighting.kind
        if kind != "static" and self.sampler.kind != "uniform":
            raise ValueError(f"weighting {kind!r} trains one batch of every task per step, so the sampler "
                             f"must be uniform, not {self.sampler.kind!r}")
        if self.loss_weights and kind not in ("static", "pcgrad"):
            raise ValueError(f"weighting {kind!r} learns its own task weights: leave loss_weights empty")
        return self


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


class EvaluationConfig(Strict):
    n_bootstrap: int = Field(1000, ge=0)  # bootstrap resamples per task; 0 skips the intervals
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class GateTask(Strict):
    metric: str | None = None  # None: the task kind's default metric (entity_f1 for BIO tagging, else accuracy)
    floor: float = 0.0  # absolute minimum of the metric (the candidate's point estimate on test)
    max_drop: float = Field(0.01, ge=0)  # largest allowed drop against the production model, in metric units
    min_examples: int | None = Field(None, ge=1)  # None: gate.min_examples


class GateConfig(Strict):
    # The paired comparison with production (see mtl/gate.py): a bootstrap of candidate - production over
    # the same test examples, with Holm's correction across the compared tasks at this family-wise level.
    confidence: float = Field(0.95, gt=0, lt=1)
    n_bootstrap: int = Field(2000, ge=200)  # paired resamples per task; Holm's levels need the far tails
    seed: int = 0
    min_examples: int = Field(100, ge=1)  # fewer test examples than this: inconclusive, not judged
    inconclusive: Literal["block", "allow"] = "block"  # what an inconclusive task does to the candidate
    tasks: dict[str, GateTask] = {}  # a trained task without an entry here fails the gate


class RegistryConfig(Strict):
    uri: str = "models/registry"  # a folder relative to params.yaml, or s3://bucket/prefix
    # S3 only; unset -> MTL_S3_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS itself.
    # Credentials are never configured here: the standard AWS chain (env, profile, instance role).
    endpoint_url: str | None = None  # an S3-compatible server, e.g. http://127.0.0.1:9000
    region: str | None = None  # unset -> AWS_DEFAULT_REGION, AWS_REGION, the profile, us-east-1
    dvc_remote: str | None = None  # a `dvc remote` to push data and models to after a promotion; None: no push


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


class NotifyConfig(Strict):
    # A URL that receives a JSON POST per event below. MTL_NOTIFY_WEBHOOK, when set, wins: keep a URL
    # that carries a secret out of params.yaml (params are copied into every registry version's lineage).
    webhook: str | None = None
    events: list[RetrainEvent] = ["mtl.model.promoted", "mtl.retrain.failed"]
    timeout_seconds: float = Field(10.0, gt=0)


# --- root ---------------------------------------------------------------------------------------


class Params(Strict):
    paths: Paths = Paths()
    corpora: dict[str, CorpusConfig]
    tasks: dict[str, TaskConfig]
    validation: ValidationConfig = ValidationConfig()
    unify: UnifyConfig = UnifyConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    baseline: BaselineConfig = BaselineConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig = GateConfig()
    registry: RegistryConfig = RegistryConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    notify: NotifyConfig = NotifyConfig()

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
