"""Checkpoint integrity: a manifest of sha256s, the last two kept, a fallback to the one before a broken
checkpoint, errors that name the file, and a latest.json that cannot point out of its run folder."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from mtl.config import Params
from mtl.training import train
from mtl.training.checkpoint import CheckpointError, latest_checkpoint, verify
from tests.training.conftest import tiny_params
from tests.training.resuming import assert_same_run

STEPS = 20  # checkpoints every 10: the run ends with step-00000010 and step-00000020 kept


@pytest.fixture(scope="module")
def straight(tmp_path_factory, unified_dir) -> tuple[Path, Params]:
    """One uninterrupted run, shared: (its folder, its params). Tests copy it before they break it."""
    params = tiny_params(max_steps=STEPS, eval_every=10, checkpoint_every=10)
    out = tmp_path_factory.mktemp("straight")
    train(params, data_dir=unified_dir, out_dir=out)
    return out, params


@pytest.fixture
def run(straight, tmp_path: Path) -> Path:
    """A copy of the straight run's folder, to tamper with."""
    copy = tmp_path / "run"
    shutil.copytree(straight[0], copy, symlinks=True)
    return copy


def relink(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_last_two_checkpoints_are_kept_each_with_its_manifest(straight):
    folder = straight[0] / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["latest.json", "step-00000010", "step-00000020"]
    manifest = json.loads((folder / "step-00000020" / "manifest.json").read_text())
    assert set(manifest) == {"model.safetensors", "config.json", "vocab.json", "labels.json", "optimizer.safetensors",
                             "rng.safetensors", "weighting.safetensors", "state.json"}


BREAKS = {
    "a flipped byte": lambda folder: flip_a_byte(folder / "optimizer.safetensors"),
    "a truncated file": lambda folder: (folder / "model.safetensors").write_bytes(
        (folder / "model.safetensors").read_bytes()[:100]),
    "a missing file": lambda folder: (folder / "rng.safetensors").unlink(),
    "a file added": lambda folder: (folder / "tokenizer.json").write_text("{}"),
    "no manifest": lambda folder: (folder / "manifest.json").unlink(),
    "a symlinked file": lambda folder: relink(folder / "state.json", folder.parent / "step-00000010" / "state.json"),
}


@pytest.mark.parametrize("damage", BREAKS)
def test_a_broken_latest_checkpoint_falls_back_to_the_one_before_with_a_warning(run: Path, damage: str, caplog):
    checkpoints = run / "checkpoints"
    BREAKS[damage](checkpoints / "step-00000020")
    with caplog.at_level(logging.WARNING, logger="mtl.training.checkpoint"):
        assert latest_checkpoint(checkpoints) == checkpoints / "step-00000010"
    assert "step-00000020" in caplog.text and "falling back" in caplog.text


def test_resuming_past_a_flipped_byte_ends_exactly_like_the_straight_run(straight, run: Path, unified_dir):
    # The latest checkpoint (step 20) is broken: the run resumes from step 10, redoes 11..20 and ends
    # bit-identical to the uninterrupted run (weights, optimizer, logs).
    flip_a_byte(run / "checkpoints" / "step-00000020" / "model.safetensors")
    train(straight[1], data_dir=unified_dir, out_dir=run, resume=True)
    verify(run / "checkpoints" / "step-00000020")  # written again by the resumed run
    assert_same_run(run, straight[0])


def test_a_truncated_checkpoint_with_nothing_to_fall_back_to_names_the_file(run: Path, unified_dir, straight):
    checkpoints = run / "checkpoints"
    shutil.rmtree(checkpoints / "step-00000010", ignore_errors=True)
    broken = checkpoints / "step-00000020" / "optimizer.safetensors"
    broken.write_bytes(broken.read_bytes()[:64])
    with pytest.raises(CheckpointError, match=f"{broken}: sha256 does not match manifest.json"):
        train(straight[1], data_dir=unified_dir, out_dir=run, resume=True)


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink", "symlinked folder"])
def test_latest_json_cannot_point_out_of_the_run_folder(run: Path, tmp_path: Path, where: str):
    checkpoints = run / "checkpoints"
    outside = tmp_path / "outside"
    shutil.copytree(checkpoints / "step-00000020", outside / "step-00000030")  # a checkpoint that verifies
    pointer = {"step": 30}
    if where == "parent":
        pointer["folder"] = os.path.relpath(outside / "step-00000030", checkpoints)  # ../../outside/step-...
    elif where == "absolute":
        pointer["folder"] = str(outside / "step-00000030")
    elif where == "symlink":
        (checkpoints / "step-00000030").symlink_to(outside / "step-00000030")
        pointer["folder"] = "step-00000030"
    else:  # the checkpoints folder itself leads out
        shutil.copytree(checkpoints, outside / "checkpoints")
        shutil.rmtree(checkpoints)
        checkpoints.symlink_to(outside / "checkpoints")
        pointer["folder"] = "step-00000020"
    (checkpoints / "latest.json").write_text(json.dumps(pointer))
    with pytest.raises(CheckpointError, match="inside|symlink"):
        latest_checkpoint(checkpoints)


def test_an_unreadable_pointer_is_an_error_naming_it(run: Path):
    pointer = run / "checkpoints" / "latest.json"
    pointer.write_text('{"step": 4')
    with pytest.raises(CheckpointError, match=f"{pointer}: not readable JSON"):
        latest_checkpoint(run / "checkpoints")
