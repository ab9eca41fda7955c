"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mtl.config import Params, load_params

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """The mirror folder of the four real corpora: MTL_CORPORA_MIRROR, else ../shared/corpora."""
    mirror = Path(os.environ.get("MTL_CORPORA_MIRROR", REPO.parent / "shared" / "corpora"))
    if not (mirror / "ud_english_ewt").is_dir():
        pytest.fail(f"the corpora mirror {mirror} is missing: set MTL_CORPORA_MIRROR or put shared/ beside the repo")
    return mirror


@pytest.fixture(scope="session")
def default_params() -> Params:
    """The project's default configuration (params.yaml at the repo root)."""
    return load_params(REPO / "params.yaml")


@pytest.fixture(scope="session")
def prefect_harness():
    """One real, temporary Prefect API (SQLite) for the whole session: starting one costs ~8 s."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield
