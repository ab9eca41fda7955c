"""Fixtures shared by the whole suite.

The integration tests share one Prefect server and two workspaces built once per session through the real
pipeline (real DVC, real Prefect flows on that server), and each test works on a copy of a workspace:
- dataset_workspace: `mtl corpora pull`, then the dataset flow runs every ingest stage and unify;
- trained_workspace: a copy of it on which the retrain flow trained, evaluated, gated and promoted v0001.
Building them is what costs (each stage is a process importing GX or torch); a copy costs a second.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.prefect_server import prefect_server
from harness.workspace import TINY, Workspace, copy_workspace, make_workspace, mtl
from mtl.config import Params, load_params

REPO = Path(__file__).resolve().parents[1]
# The shared workspaces' corpora: one per reader format of params.yaml (CoNLL-U, CoNLL, delimited, label-prefixed)
# and both kinds' common cases (tagging, BIO tagging, classification). The integration tests are about the
# pipeline's machinery; each further corpus would add an ingest process (~4 s) to every session.
CORPORA = ("ud_english_ewt", "wnut17", "sst2", "trec")


@dataclass(frozen=True)
class Built:
    """A session workspace, what its flow run returned, and that run's id on the session's Prefect server."""

    workspace: Workspace
    result: dict
    flow_run_id: str


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """The mirror folder of the real corpora: MTL_CORPORA_MIRROR, else ../shared/corpora."""
    mirror = Path(os.environ.get("MTL_CORPORA_MIRROR", REPO.parent / "shared" / "corpora"))
    if not (mirror / "ud_english_ewt").is_dir():
        pytest.fail(f"the corpora mirror {mirror} is missing: set MTL_CORPORA_MIRROR or put shared/ beside the repo")
    return mirror


@pytest.fixture(scope="session")
def default_params() -> Params:
    """The project's default configuration (params.yaml at the repo root)."""
    return load_params(REPO / "params.yaml")


@dataclass(frozen=True)
class PrefectAPI:
    url: str
    home: Path  # PREFECT_HOME of every process that talks to it


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory) -> Iterator[PrefectAPI]:
    """One real Prefect server for the whole session (`prefect server start` on 127.0.0.1, a subprocess;
    unlike the ephemeral test harness, its scheduler creates scheduled runs), with this process's flows
    pointed at it. Starting one costs seconds: once."""
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = tmp_path_factory.mktemp("prefect")
    with prefect_server(home) as url, temporary_settings({PREFECT_API_URL: url, PREFECT_HOME: home}):
        yield PrefectAPI(url, home)
        APILogWorker.drain_all(timeout=5)  # the last logs, sent while the server still answers


@pytest.fixture(scope="session")
def dataset_workspace(tmp_path_factory, shared_corpora, prefect_api) -> Built:
    """Small corpora (100 sentences or lines per file, TINY training) pulled by `mtl corpora pull` and turned into the
    unified dataset by the dataset flow: every ingest stage and unify ran, through DVC."""
    from flows.dataset import build_dataset

    workspace = make_workspace(tmp_path_factory.mktemp("dataset"), shared_corpora, n=100, open_gate=True,
                               corpora=CORPORA, **TINY)
    mtl(workspace, "corpora", "pull")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTL_CORPORA_MIRROR", str(workspace.mirror))
        state = build_dataset(load_params(workspace.params_file), return_state=True)
    return Built(workspace, state.result(), str(state.state_details.flow_run_id))


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory, dataset_workspace) -> Built:
    """A copy of dataset_workspace on which the retrain flow ran on demand: the data stages were up to date,
    train, evaluate and gate ran, and the candidate was promoted to production as v0001."""
    from flows.retrain import retrain

    workspace = copy_workspace(dataset_workspace.workspace, tmp_path_factory.mktemp("trained"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTL_CORPORA_MIRROR", str(workspace.mirror))
        state = retrain(workspace.params_file, return_state=True)
    return Built(workspace, state.result(), str(state.state_details.flow_run_id))
