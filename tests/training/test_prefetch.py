"""Batches prepared ahead by a thread (training.prefetch): the same run as without, an exact resume although the
thread has drawn past the checkpoint, errors raised in the training thread, and the thread gone at the end."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from mtl.model.vocab import build_vocab
from mtl.training import train
from mtl.training.batching import BucketBatches
from mtl.training.data import read_labels, read_split
from mtl.training.prefetch import Drawer, Prefetch
from mtl.training.samplers import TaskSampler
from tests.training.resuming import assert_same_run, interrupt_and_resume


def prefetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "mtl-prefetch" and thread.is_alive()]


def drawer(unified_dir, params, every_task: bool = False) -> Drawer:
    """A Drawer over the synthetic dataset's train split, as the loop builds it."""
    cfg = params.training
    data = read_split(unified_dir, "train", params.tasks, read_labels(unified_dir / "labels.json"))
    words = params.model.words
    vocab = build_vocab((text for d in data.values() for texts in d.inputs for text in texts), min_count=1,
                        lowercase=words.lowercase, max_word_chars=words.max_chars)
    for d in data.values():
        d.encode(vocab)
    sampler = TaskSampler({n: len(d.rows) for n, d in data.items()}, cfg.sampler, max_steps=cfg.max_steps,
                          seed=cfg.seed)
    streams = {n: BucketBatches(d.lengths(), batch_size=cfg.batch_size, unit=cfg.batch_unit, pool_size=cfg.pool_size,
                                seed=cfg.seed, name=n) for n, d in data.items()}
    return Drawer(sampler, streams, data, every_task=every_task)


@pytest.mark.parametrize("weighting", ["static", "uncertainty"])  # one sampled task per step; every task per step
def test_prefetch_on_and_off_train_the_same_run_bit_for_bit(tmp_path, unified_dir, tiny_params, weighting):
    """Dropout is on (the model's draws from torch's generator in the training thread): a producer touching any
    global generator would change the trajectory."""
    runs = {}
    for depth in (0, 3):
        params = tiny_params(max_steps=30, eval_every=10, checkpoint_every=10, prefetch=depth,
                             weighting={"kind": weighting})
        assert params.model.dropout > 0
        runs[depth] = tmp_path / f"prefetch-{depth}"
        train(params, data_dir=unified_dir, out_dir=runs[depth])
    assert_same_run(runs[0], runs[3])
    assert not prefetch_threads(), "the thread ends with training"


def test_a_crash_with_batches_drawn_ahead_resumes_exactly(tmp_path, unified_dir, tiny_params):
    """Crash at step 17: the checkpoint of step 10 was written while the thread had drawn steps 11-14's batches
    already. It must hold the sampler and streams as of step 10's batch (the batches consumed), or the resumed run
    would skip four batches and train others."""
    params = tiny_params(max_steps=30, eval_every=10, checkpoint_every=10, prefetch=4)
    interrupt_and_resume(params, unified_dir, tmp_path / "resumed", stop_at=17)
    assert not prefetch_threads(), "the crash stopped the thread"
    train(tiny_params(max_steps=30, eval_every=10, checkpoint_every=10, prefetch=0), data_dir=unified_dir,
          out_dir=tmp_path / "straight")
    assert_same_run(tmp_path / "resumed", tmp_path / "straight")


def wait_until_full(prefetch: Prefetch) -> None:
    deadline = time.monotonic() + 30
    while prefetch._queue.qsize() < prefetch.depth and time.monotonic() < deadline:
        time.sleep(0.005)
    assert prefetch._queue.qsize() == prefetch.depth, "the thread fills its queue"


def test_the_position_is_that_of_the_draws_consumed_not_of_those_prepared(unified_dir, tiny_params):
    """At every step the thread is 5 draws ahead (its queue full), yet the position a checkpoint would save is
    the one of a consumer drawing for itself."""
    params = tiny_params()
    ahead, inline = drawer(unified_dir, params), drawer(unified_dir, params)
    with Prefetch(ahead, 1, 40, depth=5) as prefetch, Prefetch(inline, 1, 40, depth=0) as reference:
        assert prefetch.position == reference.position  # before any draw
        for step in range(1, 8):
            wait_until_full(prefetch)
            a, b = prefetch.next(), reference.next()
            assert (a.step, a.tasks) == (step, b.tasks) and a.batches[a.tasks[0]].index == b.batches[b.tasks[0]].index
            assert prefetch.position == reference.position
        wait_until_full(prefetch)
        assert ahead.position() != prefetch.position
    assert not prefetch_threads(), "closed with a full queue: the thread saw the stop and ended"


def test_an_error_in_the_thread_is_raised_in_the_training_thread(unified_dir, tiny_params):
    """A batch stream over more examples than the task has: drawing its batch fails with IndexError in the
    thread, and next() raises it, naming the step, instead of waiting for a batch that never comes."""
    params = tiny_params()
    broken = drawer(unified_dir, params, every_task=True)
    cfg, lengths = params.training, broken.data["ner"].lengths()
    broken.streams["ner"] = BucketBatches(np.tile(lengths, 10), batch_size=cfg.batch_size, unit=cfg.batch_unit,
                                          pool_size=1, seed=cfg.seed, name="ner")  # 9 in 10 indices past the end
    with Prefetch(broken, 1, 40, depth=2) as prefetch:
        with pytest.raises(IndexError) as raised:
            for _ in range(40):
                prefetch.next()
    assert any("in the prefetch thread while preparing step 1's batches" in note for note in raised.value.__notes__)
    assert not prefetch_threads()


def test_an_error_in_the_thread_stops_training(tmp_path, unified_dir, tiny_params, monkeypatch):
    real = Drawer.draw

    def failing(self, step):
        if step == 7:
            raise OSError("disk gone while reading batch of step 7")
        return real(self, step)

    monkeypatch.setattr(Drawer, "draw", failing)
    with pytest.raises(OSError, match="disk gone"):
        train(tiny_params(max_steps=20, checkpoint_every=5, prefetch=2), data_dir=unified_dir, out_dir=tmp_path)
    assert not prefetch_threads()
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text())["step"] == 5, "trained up to step 7"

