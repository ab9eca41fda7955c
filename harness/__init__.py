"""Real components that the integration tests (tests/) and the benchmarks (bench/) start and stop: a small
DVC workspace cut from the corpora (workspace), a Prefect server subprocess with `mtl schedule` serving the
retrain deployment (prefect_server), and a webhook receiver (webhook), all on 127.0.0.1.

Not part of the mtl package: it sits beside tests/ and bench/ so that neither imports the other.
"""
