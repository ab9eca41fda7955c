"""A tiny trained model (trained once per session), a local registry it is promoted into, and a real
uvicorn server on a free 127.0.0.1 port for each service a test starts (stopped when the test ends)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from mtl.config import Params
from mtl.registry import LocalStore, Registry
from mtl.serve import BackgroundServer, build_app
from mtl.training import train
from tests.training.conftest import tiny_params, write_unified


@dataclass(frozen=True)
class Trained:
    params: Params  # tiny params whose unified data is `unified`
    params_file: Path  # the same params on disk, registry under `registry` (for the CLI and mtl.load)
    model: Path  # the trained model folder
    unified: Path


def write_params(params: Params, path: Path, **sections) -> Path:
    """params as a params.yaml (sections replaced), so that the CLI and mtl.load read exactly them."""
    data = params.model_dump(mode="json", exclude={"root"})
    for name, section in sections.items():
        data[name] = {**data.get(name, {}), **section}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def train_tiny(folder: Path, steps: int = 30) -> Trained:
    """A few dozen steps on the synthetic four-task data: a real model, trained in about a second."""
    unified = write_unified(folder / "unified")
    params = tiny_params(max_steps=steps, eval_every=steps, checkpoint_every=steps)
    train(params, data_dir=unified, out_dir=folder / "run")
    # The data, model and registries live in pytest's temporary folders, outside the params file's folder.
    params_file = write_params(params, folder / "params.yaml", registry={"uri": str(folder / "registry")},
                               paths={"unified": str(unified), "allow_outside_root": True})
    from mtl.config import load_params

    return Trained(load_params(params_file), params_file, folder / "run" / "model", unified)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return train_tiny(tmp_path_factory.mktemp("serve-model"))


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(LocalStore(tmp_path / "registry"))


def serve_params(trained: Trained, tmp_path: Path, **serve) -> Params:
    """The trained model's params with a registry in tmp_path and these serve settings."""
    from mtl.config import load_params

    written = write_params(trained.params, tmp_path / "params.yaml", registry={"uri": str(tmp_path / "registry")},
                           serve=serve)
    return load_params(written)


@contextmanager
def running(params: Params, model: str) -> Iterator[httpx.Client]:
    """The service for `model` on a free 127.0.0.1 port; a client on it; both closed afterwards."""
    with BackgroundServer(build_app(params, model)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def service(trained: Trained, tmp_path: Path) -> Callable[..., contextmanager]:
    """service(model=folder, **serve settings) -> a context manager yielding a client of a running service."""

    def start(model: str | None = None, **serve):
        return running(serve_params(trained, tmp_path, **serve), model or str(trained.model))

    return start
