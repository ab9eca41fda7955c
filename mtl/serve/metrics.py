"""Prometheus metrics of one service instance, exposed at GET /metrics in the text format.

Each app owns its CollectorRegistry (no process-global state), so two services in one process, as in
the tests and the benchmark, count separately.

    mtl_requests_total{path, status}         every answered request, by route and status code
    mtl_request_seconds{path}                latency histogram, from the request arriving to the answer
    mtl_batch_sentences                      sentences per encoder pass (the micro-batches)
    mtl_batch_seconds                        time of one encoder pass plus decoding
    mtl_queue_sentences                      sentences waiting for a pass
    mtl_model_info{version, precision}       1 for the model serving
    mtl_model_swaps_total, mtl_model_load_failures_total
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("mtl_requests_total", "Requests answered, by route and status code.",
                                ["path", "status"], registry=self.registry)
        self.latency = Histogram("mtl_request_seconds", "Request latency in seconds, by route.", ["path"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_sentences = Histogram("mtl_batch_sentences", "Sentences per encoder pass.",
                                         buckets=BATCH_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("mtl_batch_seconds", "Seconds per encoder pass, decoding included.",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_sentences = Gauge("mtl_queue_sentences", "Sentences waiting for an encoder pass.",
                                     registry=self.registry)
        self.model_info = Gauge("mtl_model_info", "1 for the model version serving.", ["version", "precision"],
                                registry=self.registry)
        self.swaps = Counter("mtl_model_swaps_total", "Model versions swapped in.", registry=self.registry)
        self.load_failures = Counter("mtl_model_load_failures_total", "Model versions that failed to load.",
                                     registry=self.registry)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path=path, status=str(status)).inc()
        self.latency.labels(path=path).observe(seconds)

    def serving(self, version: str, precision: str) -> None:
        self.model_info.clear()
        self.model_info.labels(version=version, precision=precision).set(1)

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
