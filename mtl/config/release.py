"""What happens to a trained candidate: evaluation, the gate, drift, the registry, the schedule, notifications and
the service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from mtl.config.base import Strict
from mtl.urls import check_http_url



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
