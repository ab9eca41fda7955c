"""Fixtures shared by the whole suite.

The integration tests share one Prefect server and two workspaces built once per session through the real
pipeline (real DVC, real Prefect flows on that server), and each test works on a copy of a workspace:
- dataset_workspace: `mtl corpora pull`, then the dataset flow runs every ingest stage and unify;
- trained_workspace: a copy of it on which the retrain flow trained, evaluated, gated and promoted v0001.
Building them is what costs (each stage is a process importing GX or torch); a copy costs a second.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

# `make test` runs the suite in pytest-xdist workers, one process each. What every worker process needs is set
# here, before anything imports torch or Prefect (both read it when they load):
# - its share of the cores for torch (cores / workers threads): two workers with a thread per core each thrash;
# - OpenMP threads that sleep at barriers instead of spinning (mtl/training/device.py: spinning made 2 threads
#   ~10x slower than 1 on a shared CPU); children (DVC stages, `mtl` commands) inherit both;
# - a Prefect home of its own: a flow or task run outside the session's server starts an ephemeral server on
#   PREFECT_HOME's SQLite database, which two workers (or a developer's ~/.prefect) must not share.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // WORKERS)))
PREFECT_HOME = Path(tempfile.mkdtemp(prefix=f"mtl-tests-prefect-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"))
os.environ["PREFECT_HOME"] = str(PREFECT_HOME)

from harness.candidate import build_once  # noqa: E402  (after the environment above)
from harness.prefect_server import prefect_server  # noqa: E402
from harness.workspace import TINY, Workspace, copy_workspace, make_workspace, mtl  # noqa: E402
from mtl.config import Params, load_params  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The shared workspaces' corpora: one per reader format of params.yaml (CoNLL-U, CoNLL, delimited, label-prefixed)
# and both kinds' common cases (tagging, BIO tagging, classification). The integration tests are about the
# pipeline's machinery; each further corpus would add an ingest process (~4 s) to every session.
CORPORA = ("ud_english_ewt", "wnut17", "sst2", "trec")


# `make test` runs under `--dist loadgroup`, a group's tests on one worker, so that an expensive session build is
# made once per group, on the worker that runs it:
# - "pipeline": the tests of the session's Prefect server and its workspaces (dataset_workspace, and
#   trained_workspace built on it). One group, not two: split per workspace (each worker building the server and the
#   dataset workspace) measured 230 and 259 s of pytest against 219 s as one group on a quiet 2-core machine, the
#   second dataset build costing more than the better balance saved;
# - "candidate": the evaluated model of harness/candidate.py (by the modules that build it);
# - otherwise a test's file, so a module-scoped fixture (a 2-process training run, eight interpreters importing
#   the stages' modules) is built on one worker, not on each.
# With --no-loadscope-reorder xdist hands out groups in collection order, so the longest go first (longest
# processing time first: the last group handed out is a short one, and the workers end together): the pipeline
# group, then HEAVY_GROUPS, then the rest as collected.
PIPELINE_FIXTURES = {"prefect_api", "dataset_workspace", "trained_workspace"}
# The groups that took longest on this machine (`pytest -n 2 --durations`, per group, on 2026-11-28), longest
# first. An ordering hint only: a group missing here runs after these, and every test runs either way.
HEAVY_GROUPS = ("tests/test_ingest_chunked.py", "tests/training/test_resume.py", "tests/training/test_distributed.py",
                "tests/model/test_encoders.py", "tests/model/test_sharing.py", "tests/training/test_weighting.py",
                "tests/test_house.py", "tests/test_ingest_shared_corpora.py", "candidate")
GROUP_ORDER = {group: rank for rank, group in enumerate(("pipeline", *HEAVY_GROUPS))}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouped = sorted(((_group(item), item) for item in items),  # stable: otherwise as collected
                     key=lambda pair: GROUP_ORDER.get(pair[0], len(GROUP_ORDER)))
    items[:] = [item for _, item in grouped]
    for group, item in grouped:
        item.add_marker(pytest.mark.xdist_group(group))
        if getattr(config.option, "loadgroup", False):  # set in xdist workers under --dist loadgroup
            _join_group(item, group)


def _group(item: pytest.Item) -> str:
    if PIPELINE_FIXTURES & set(item.fixturenames):
        return "pipeline"
    if getattr(getattr(item, "module", None), "build_once", None) is build_once:
        return "candidate"
    return item.nodeid.split("::")[0]


def _join_group(item: pytest.Item, group: str) -> None:
    """What xdist 3.8 means to do with the mark and no longer can: the scheduler reads a test's group from the
    `@group` suffix of its node id, which xdist writes into `item._nodeid`, but pytest 9.2 builds node ids from
    `item._id` (pytest-xdist issue #1386, open): the mark alone leaves every test its own group, and each worker
    builds the session workspace. Remove once xdist writes the suffix itself (then it is written twice, and the
    scheduler still reads the group after the last `@`)."""
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)


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
def dataset_workspace(request, tmp_path_factory, shared_corpora) -> Built:
    """Small corpora (100 sentences or lines per file, TINY training) pulled by `mtl corpora pull` and turned into the
    unified dataset by the dataset flow: every ingest stage and unify ran, through DVC."""
    from flows.dataset import build_dataset

    folder = tmp_path_factory.mktemp("dataset")
    # The workspace (git, dvc init, `mtl corpora pull`: processes) is made while the Prefect server starts: neither
    # needs the other, and each is seconds of a process's start-up (prefect_api is asked for here, not as an
    # argument, so that it starts after the workspace's processes did).
    with ThreadPoolExecutor(max_workers=1) as background:
        pulled = background.submit(_pulled_workspace, folder, shared_corpora)
        request.getfixturevalue("prefect_api")
        workspace = pulled.result()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTL_CORPORA_MIRROR", str(workspace.mirror))
        state = build_dataset(load_params(workspace.params_file), return_state=True)
    return Built(workspace, state.result(), str(state.state_details.flow_run_id))


def _pulled_workspace(folder: Path, shared_corpora: Path) -> Workspace:
    workspace = make_workspace(folder, shared_corpora, n=100, open_gate=True, corpora=CORPORA, **TINY)
    mtl(workspace, "corpora", "pull")
    return workspace


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
