"""The HTTP API (FastAPI): predict, health, model information and metrics.

    POST /v1/predict   sentences (raw text or tokens) and optional tasks -> each task's prediction per
                       sentence and the model version that made them (micro-batched: mtl/serve/batcher.py)
    GET  /v1/model     the version serving: tasks and labels, test metrics, lineage, the last load failure
    GET  /healthz      the process answers;  GET /readyz  a model is loaded (503 until then)
    GET  /metrics      Prometheus text format (mtl/serve/metrics.py)
    GET  /docs, /openapi.json   FastAPI's generated schema, with examples

Every error is JSON {"error": "..."}: 400 for a body that is not JSON, 411 without Content-Length,
413 past the request size limits, 422 for a body of the wrong shape (empty input, an empty sentence,
an unknown task), 503 with Retry-After when the queue is full or no model is loaded, 504 past the
request timeout. No request, however malformed, takes the process down.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mtl.config import ServeConfig
from mtl.serve.access import Accounting
from mtl.serve.batcher import MicroBatcher, QueueFull
from mtl.serve.follower import ModelFollower, Served
from mtl.serve.metrics import ServiceMetrics
from mtl.serve.schema import ErrorResponse, ModelInfo, PredictRequest, PredictResponse

ERRORS = {status: {"model": ErrorResponse} for status in (400, 411, 413, 422, 503, 504)}


def create_app(follower: ModelFollower, config: ServeConfig, metrics: ServiceMetrics) -> FastAPI:
    """The service over `follower`'s model; the follower and the batcher start and stop with the app."""
    batcher = MicroBatcher(metrics, max_batch_sentences=config.max_batch_sentences,
                           encoder_call_tokens=config.encoder_call_tokens,
                           max_wait_seconds=config.max_wait_ms / 1000, max_queue_sentences=config.max_queue_sentences)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        await asyncio.to_thread(follower.start)  # loads the model: seconds, off the event loop
        yield
        follower.stop()
        batcher.stop()

    app = FastAPI(title="mtl", summary="Every task of a multi-task model, from one encoder pass.",
                  lifespan=lifespan, responses=ERRORS)

    app.add_middleware(Accounting, config=config, metrics=metrics)  # limits, metrics, access log

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        request.state.details["error"] = error.detail
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem["type"] == "json_invalid" for problem in problems):
            message, status = f"the body is not valid JSON: {problems[0].get('ctx', {}).get('error', '')}", 400
        else:
            message, status = "; ".join(_describe(problem) for problem in problems), 422
        request.state.details["error"] = message
        return JSONResponse({"error": message}, status_code=status)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", responses={503: {"model": ErrorResponse}})
    async def readyz() -> dict[str, str]:
        served = _serving(follower, config)
        return {"status": "ready", "version": served.version}

    @app.get("/v1/model", response_model=ModelInfo)
    async def model_info() -> ModelInfo:
        return describe(follower)

    @app.get("/metrics")
    async def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    @app.post("/v1/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest, request: Request) -> JSONResponse:
        """Every asked task's prediction for each sentence, from one shared encoder pass per micro-batch."""
        served = _serving(follower, config)
        tasks, tokens = _checked(body, served, config)
        request.state.details.update(sentences=len(tokens), tasks=tasks, version=served.version)
        client = tuple(request.scope.get("client") or ()) or None  # (host, port): the connection, which asks again
        try:
            future = batcher.submit(tokens, tasks, served, client)
        except QueueFull as error:
            raise HTTPException(503, str(error), headers={"Retry-After": str(config.retry_after_seconds)}) from None
        try:
            rows = await asyncio.wait_for(future, config.request_timeout_seconds)
        except asyncio.TimeoutError:
            raise HTTPException(504, f"no answer within serve.request_timeout_seconds "
                                     f"({config.request_timeout_seconds:g} s)") from None
        finally:
            batcher.answered(client)
        # A JSONResponse skips re-validating the answer against PredictResponse (it is built to fit it):
        # that costs a millisecond per request here.
        return JSONResponse({"model": {"version": served.version, "precision": served.predictor.precision},
                             "predictions": rows})

    return app


def _serving(follower: ModelFollower, config: ServeConfig) -> Served:
    served = follower.current
    if served is None:
        failure = follower.last_failure["error"] if follower.last_failure else "loading"
        raise HTTPException(503, f"no model loaded yet ({failure})",
                            headers={"Retry-After": str(config.retry_after_seconds)})
    return served


def _checked(body: PredictRequest, served: Served, config: ServeConfig) -> tuple[list[str], list[list[str]]]:
    """(tasks in the model's order, each sentence's tokens), or the HTTP error that says what is wrong."""
    if not body.sentences:
        raise HTTPException(422, "sentences is empty: give at least one sentence (raw text or a list of tokens)")
    if len(body.sentences) > config.max_sentences_per_request:
        raise HTTPException(413, f"{len(body.sentences)} sentences; serve.max_sentences_per_request is "
                                 f"{config.max_sentences_per_request}: split the request")
    model_tasks = served.predictor.tasks
    asked = model_tasks if body.tasks is None else body.tasks
    unknown = sorted(set(asked) - set(model_tasks))
    if unknown or not asked:
        raise HTTPException(422, f"unknown task(s) {unknown}; the model has {sorted(model_tasks)}" if unknown
                            else "tasks is empty: leave it out for every task")
    tokens = served.predictor.tokens_of(body.sentences)
    for i, sentence in enumerate(tokens):
        if not sentence or any(not token or token.isspace() for token in sentence):
            raise HTTPException(422, f"sentence {i} is empty or has an empty token: {body.sentences[i]!r}")
        if len(sentence) > config.max_tokens_per_sentence:
            raise HTTPException(413, f"sentence {i} has {len(sentence)} tokens; serve.max_tokens_per_sentence "
                                     f"is {config.max_tokens_per_sentence}")
    return [task for task in model_tasks if task in asked], tokens


def _describe(problem: dict) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"
    return f"{where}: {problem.get('msg', 'invalid')}"


def describe(follower: ModelFollower) -> ModelInfo:
    """GET /v1/model's answer."""
    served = follower.current
    info: dict[str, Any] = {"version": None, "source": follower.source, "last_failure": follower.last_failure}
    if served is None:
        return ModelInfo(**info)
    record = served.registry_record
    tasks = served.predictor.model.config.tasks
    test = (record.get("metrics") or {}).get("test") or {}
    lineage = record.get("lineage") or {}
    return ModelInfo(
        source=follower.source,
        last_failure=follower.last_failure,
        version=served.version,
        precision=served.predictor.precision,
        tokenizer=served.predictor.tokenizer,
        loaded_at=served.loaded_at,
        tasks={name: {"kind": spec.kind, "labels": spec.labels} for name, spec in tasks.items()},
        metrics={task: {"metric": row.get("metric"), "value": row.get("value"), "ci": row.get("ci"), "n": row.get("n")}
                 for task, row in (test.get("per_task") or {}).items()} or None,
        lineage={"created": (record.get("manifest") or {}).get("created"), "aliases": record.get("aliases"),
                 "gate": (record.get("gate") or {}).get("verdict"), "git_commit": lineage.get("git_commit"),
                 "git_dirty": lineage.get("git_dirty"), "data": lineage.get("dvc_lock")} if record else None,
    )
