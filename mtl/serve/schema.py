"""The service's request and response bodies (they are also its OpenAPI schema, examples included).

An item to predict is raw text (split by the tokenizer the model folder records) or a list of tokens.
Sentence pairs (for pair task kinds) will be a third form, an object {"first": ..., "second": ...} of
two such items, added to `Item` without changing the other two.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Item = str | list[str]  # raw text | tokens

PREDICT_EXAMPLE = {"sentences": ["I don't like it.", ["Where", "is", "Oslo", "?"]], "tasks": ["pos", "sentiment"]}


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PREDICT_EXAMPLE]})

    sentences: list[Item] = Field(
        description="What to predict: each item raw text or a list of tokens (mixed freely). "
        "At most serve.max_sentences_per_request items (413 past it), each of 1 to "
        "serve.max_tokens_per_sentence tokens.",
    )
    tasks: list[str] | None = Field(
        None, description="The tasks to answer (default: every task of the model); an unknown task is a 422."
    )


class ServedModel(BaseModel):
    version: str = Field(description="The registry version (or model folder) that produced the predictions.")
    precision: str = Field(description='"fp32", or "int8" for a model from `mtl export --quantize int8`.')


class PredictResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "model": {"version": "v0003", "precision": "fp32"},
        "predictions": [
            {"tokens": ["I", "do", "n't", "like", "it", "."], "pos": ["PRON", "AUX", "PART", "VERB", "PRON", "PUNCT"],
             "sentiment": "0"},
            {"tokens": ["Where", "is", "Oslo", "?"], "pos": ["ADV", "AUX", "PROPN", "PUNCT"], "sentiment": "1"},
        ],
    }]})

    model: ServedModel
    predictions: list[dict[str, Any]] = Field(
        description="One object per item, in order: its tokens and each asked task's prediction "
        "(a tag per token for tagging tasks, a label for classification tasks)."
    )


class ErrorResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"error": "unknown task(s) ['chunk']; the model has "
                                                                         "['ner', 'pos', 'question', 'sentiment']"}]})

    error: str = Field(description="What was wrong, in words.")


class TaskInfo(BaseModel):
    kind: str
    labels: list[str]


class ModelInfo(BaseModel):
    """GET /v1/model: what is serving, and what the service last failed to load."""

    version: str | None = Field(description="The version serving; null while none is loaded.")
    source: str = Field(description='What the service follows: "registry:<alias or version>" or a folder.')
    precision: str | None = None
    tokenizer: str | None = Field(None, description="How raw text is split (mtl/corpora/tokenize.py).")
    loaded_at: str | None = None
    tasks: dict[str, TaskInfo] = {}
    metrics: dict[str, Any] | None = Field(None, description="Test metrics per task from the registry.")
    lineage: dict[str, Any] | None = Field(None, description="Git commit, data hashes, created, gate verdict.")
    last_failure: dict[str, Any] | None = Field(
        None, description="The last version that failed to load ({version, error, at}); the old one kept serving."
    )
