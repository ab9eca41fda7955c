"""When a pass starts and how it is cut (mtl/serve/batcher.py), against a real service on 127.0.0.1."""

from __future__ import annotations

import itertools
import threading
import time

import httpx
import pytest

from mtl.serve.batcher import cut
from tests.serve.test_api import _sample


def _cost(lengths: list[int], ends: list[int], call_tokens: float) -> float:
    """Padded tokens plus call_tokens per call, for calls ending at `ends` over sorted lengths."""
    starts = [0, *ends[:-1]]
    return sum(call_tokens + (end - start) * lengths[end - 1] for start, end in zip(starts, ends))


@pytest.mark.parametrize("call_tokens", [0, 5, 30, 1000])
def test_cut_finds_the_cheapest_cut_of_a_pass(call_tokens: float) -> None:
    lengths = sorted([3, 4, 4, 9, 10, 11, 25, 40])
    ends = cut(lengths, call_tokens)
    assert ends[-1] == len(lengths) and ends == sorted(set(ends))
    every_cut = [[*inner, len(lengths)] for r in range(len(lengths))
                 for inner in itertools.combinations(range(1, len(lengths)), r)]
    assert _cost(lengths, ends, call_tokens) == min(_cost(lengths, other, call_tokens) for other in every_cut)
    if call_tokens == 0:
        assert len(ends) == len(set(lengths))  # free calls: only equal lengths share one (no padding at all)
    if call_tokens == 1000:
        assert ends == [len(lengths)]  # dear calls: one call, padding and all


def test_a_lone_client_is_served_at_once(service) -> None:
    # max_wait_ms is a minute and the timeout 10 s: a pass that waited for company would answer 504.
    with service(max_wait_ms=60_000, request_timeout_seconds=10) as client:
        statuses = [client.post("/v1/predict", json={"sentences": ["a cat"]}).status_code for _ in range(3)]
        metrics = client.get("/metrics").text
    assert statuses == [200, 200, 200]
    assert _sample(metrics, "mtl_batch_sentences_count") == 3


def test_a_pass_waits_for_the_client_it_just_answered(service) -> None:
    with service(max_wait_ms=20_000, request_timeout_seconds=30) as first, \
            httpx.Client(base_url=first.base_url, timeout=30) as second, \
            httpx.Client(base_url=first.base_url, timeout=30) as watcher:
        assert first.post("/v1/predict", json={"sentences": ["a cat"]}).status_code == 200  # a pass of its own
        answers = {}
        asking = threading.Thread(target=lambda: answers.update(second=second.post(
            "/v1/predict", json={"sentences": ["the dog", "a bird"]})))
        asking.start()
        while _sample(watcher.get("/metrics").text, "mtl_queue_sentences") != 2:  # held for `first`
            assert asking.is_alive(), answers
            time.sleep(0.01)
        answers["first"] = first.post("/v1/predict", json={"sentences": ["a cow"]})
        asking.join(timeout=30)
        metrics = watcher.get("/metrics").text
    assert answers["first"].status_code == 200 and answers["second"].status_code == 200
    assert [row["tokens"] for row in answers["second"].json()["predictions"]] == [["the", "dog"], ["a", "bird"]]
    assert _sample(metrics, "mtl_batch_sentences_count") == 2  # `first` alone, then both in one pass
    assert _sample(metrics, "mtl_batch_sentences_sum") == 4
