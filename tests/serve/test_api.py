"""The HTTP API against a real uvicorn server on 127.0.0.1: answers, errors, limits, metrics, logs."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from typer.testing import CliRunner

from mtl.cli import app as cli
from tests.serve.conftest import Trained, running, serve_params

SENTENCES = ["the cat sees a dog .", "Where is Oslo ?", "Alice likes the lovely book"]


def test_answers_equal_mtl_predicts_for_the_same_model(service, trained: Trained, tmp_path) -> None:
    (tmp_path / "input.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    done = CliRunner().invoke(cli, ["predict", "--model", str(trained.model), "--input", str(tmp_path / "input.txt"),
                                    "--params", str(trained.params_file)])
    assert done.exit_code == 0, done.output
    expected = [json.loads(line) for line in done.output.splitlines()]
    with service() as client:
        answer = client.post("/v1/predict", json={"sentences": SENTENCES})
        tokens = client.post("/v1/predict", json={"sentences": [row["tokens"] for row in expected], "tasks": ["pos"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"version": trained.model.name, "precision": "fp32"}
    assert body["predictions"] == expected
    assert [row["tokens"] for row in expected][1] == ["Where", "is", "Oslo", "?"]
    assert tokens.json()["predictions"] == [{"tokens": row["tokens"], "pos": row["pos"]} for row in expected]


def test_concurrent_requests_share_passes_and_each_gets_its_own_answer(service) -> None:
    with service(max_wait_ms=50) as client:
        alone = [client.post("/v1/predict", json={"sentences": [s]}).json()["predictions"][0] for s in SENTENCES]
        with ThreadPoolExecutor(len(SENTENCES) * 4) as pool:
            answers = list(pool.map(lambda s: client.post("/v1/predict", json={"sentences": [s]}), SENTENCES * 4))
        metrics = client.get("/metrics").text
    assert [a.json()["predictions"][0] for a in answers] == alone * 4
    passes = _sample(metrics, "mtl_batch_sentences_count")
    assert passes < len(SENTENCES) * 5  # some of the 12 concurrent requests shared a pass


@pytest.fixture(scope="module")
def limited(trained: Trained, tmp_path_factory: pytest.TempPathFactory):
    """One service with small limits for all the bad requests (a server per case would cost ~0.3 s each)."""
    limits = {"max_sentences_per_request": 8, "max_tokens_per_sentence": 20, "max_request_bytes": 1000}
    with running(serve_params(trained, tmp_path_factory.mktemp("limited"), **limits), str(trained.model)) as client:
        yield client


@pytest.mark.parametrize(("body", "status", "message"), [
    ('{"sentences": [', 400, "not valid JSON"),
    ('{"sentences": []}', 422, "sentences is empty"),
    ('{"sentences": [""]}', 422, "sentence 0 is empty"),
    ('{"sentences": ["ok", ["a", ""]]}', 422, "sentence 1 is empty or has an empty token"),
    ('{"sentences": ["a cat"], "tasks": ["chunk"]}', 422, "unknown task(s) ['chunk']; the model has"),
    ('{"sentences": ["a cat"], "tasks": []}', 422, "tasks is empty"),
    ('{"sentences": [5]}', 422, "sentences.0"),
    ('{"text": "a cat"}', 422, "sentences: Field required"),
    ('["a cat"]', 422, "Input should be a valid dictionary"),
    ('{"sentences": ' + json.dumps(["cat"] * 9) + "}", 413, "9 sentences; serve.max_sentences_per_request is 8"),
    ('{"sentences": [' + json.dumps(["cat"] * 21) + "]}", 413, "sentence 0 has 21 tokens"),
    ('{"sentences": ["' + "cat " * 300 + '"]}', 413, "serve.max_request_bytes is 1000"),
])
def test_bad_requests_get_a_4xx_with_a_message_and_the_service_goes_on(limited, body, status, message) -> None:
    answer = limited.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert limited.post("/v1/predict", json={"sentences": ["a cat"]}).status_code == 200


def test_a_full_queue_answers_503_with_retry_after_and_a_slow_pass_504(service) -> None:
    with service(max_queue_sentences=2, retry_after_seconds=3) as client:
        full = client.post("/v1/predict", json={"sentences": ["a", "b", "c"]})
        assert client.post("/v1/predict", json={"sentences": ["a", "b"]}).status_code == 200
    assert full.status_code == 503 and full.headers["retry-after"] == "3"
    assert "serve.max_queue_sentences 2" in full.json()["error"]
    # The first client was just answered, so the second one's pass waits up to 5 s for it to come back
    # (mtl/serve/batcher.py); the second request gives up after 50 ms.
    with service(max_wait_ms=5000, request_timeout_seconds=0.05) as client, \
            httpx.Client(base_url=client.base_url, timeout=30) as other:
        assert client.post("/v1/predict", json={"sentences": ["a dog"]}).status_code == 200
        late = other.post("/v1/predict", json={"sentences": ["a cat"]})
    assert late.status_code == 504 and "serve.request_timeout_seconds" in late.json()["error"]


def test_health_model_info_openapi_and_metrics(service, trained: Trained) -> None:
    with service() as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        assert client.get("/readyz").json() == {"status": "ready", "version": trained.model.name}
        info = client.get("/v1/model").json()
        client.post("/v1/predict", json={"sentences": ["a cat", "the dog"]})
        client.post("/v1/predict", json={"sentences": []})
        schema = client.get("/openapi.json").json()
        metrics = client.get("/metrics").text
        missing = client.get("/nowhere")
    assert info["version"] == trained.model.name and info["precision"] == "fp32" and info["tokenizer"] == "treebank"
    assert set(info["tasks"]) == {"pos", "ner", "sentiment", "question"}
    assert info["tasks"]["sentiment"]["labels"] == ["0", "1"]
    request_schema = schema["components"]["schemas"]["PredictRequest"]
    assert request_schema["examples"][0]["sentences"][0] == "I don't like it."
    assert _sample(metrics, 'mtl_requests_total{path="/v1/predict",status="200"}') == 1
    assert _sample(metrics, 'mtl_requests_total{path="/v1/predict",status="422"}') == 1
    assert _sample(metrics, "mtl_batch_sentences_sum") == 2
    assert _sample(metrics, 'mtl_model_info{precision="fp32",version="' + trained.model.name + '"}') == 1
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}


def test_every_request_is_one_structured_access_log_line(service, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="mtl.serve.access"), service() as client:
        client.post("/v1/predict", json={"sentences": ["a cat"], "tasks": ["pos"]})
        client.post("/v1/predict", json={"sentences": ["a cat"], "tasks": ["chunk"]})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mtl.serve.access"]
    assert [(line["path"], line["status"]) for line in lines] == [("/v1/predict", 200), ("/v1/predict", 422)]
    assert lines[0]["sentences"] == 1 and lines[0]["tasks"] == ["pos"] and lines[0]["ms"] > 0
    assert "unknown task" in lines[1]["error"]


def _sample(exposition: str, name: str) -> float:
    """The value of one sample in Prometheus text format."""
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} in\n{exposition}")
