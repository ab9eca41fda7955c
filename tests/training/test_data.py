"""Training's data read lazily from the unified Parquet gives what reading it whole gave: the same rows, inputs,
gold answers, lengths and encoded examples (values, dtypes, shapes), on a file of one row group and on one of
many with the tasks interleaved; the rows themselves are not held, and a batch's examples are encoded when it
is drawn, the very ones encoding every example up front made."""

from __future__ import annotations

import json
import shutil
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtl.model.batch import Example, collate
from mtl.model.vocab import build_vocab
from mtl.tasks import kind_of
from mtl.training.batching import BucketBatches
from mtl.training.data import TaskData, load_training_data, read_labels, read_split
from mtl.training.encoded import EncodedRows
from mtl.training.step import next_batch
from mtl.training import task_rows
from mtl.training.task_rows import TaskRows
from tests.training.conftest import tiny_params


def eager(data_dir, split, tasks) -> dict[str, list[dict]]:
    """The split read whole, each task's rows as Python dicts: the reading training did before issue 17."""
    rows = pq.read_table(data_dir / f"{split}.parquet").to_pylist()
    return {name: [{f: row[f] for f in kind_of(options).fields(options)} for row in rows if row["task"] == name]
            for name, options in tasks.items()}


@pytest.fixture(scope="module")
def interleaved_dir(pairs_dir, tmp_path_factory):
    """The six-task dataset with every split's rows shuffled across tasks and cut into row groups of 7 rows."""
    folder = tmp_path_factory.mktemp("interleaved")
    shutil.copy(pairs_dir / "labels.json", folder / "labels.json")
    for split in ("train", "dev", "test"):
        table = pq.read_table(pairs_dir / f"{split}.parquet")
        order = np.random.default_rng(0).permutation(table.num_rows)
        pq.write_table(table.take(pa.array(order)), folder / f"{split}.parquet", row_group_size=7)
    return folder


@pytest.mark.parametrize("layout", ["one_group", "interleaved"])
def test_lazy_task_data_is_the_eager_reading(layout, pairs_dir, interleaved_dir):
    data_dir = pairs_dir if layout == "one_group" else interleaved_dir
    params = tiny_params(pairs=True)
    labels = read_labels(data_dir / "labels.json")
    lazy = read_split(data_dir, "train", params.tasks, labels)
    whole = eager(data_dir, "train", params.tasks)
    assert list(lazy) == list(params.tasks)
    if layout == "interleaved":
        assert pq.ParquetFile(data_dir / "train.parquet").metadata.num_row_groups > 20
    words = params.model.words
    sentences = [row[text] for name, rows in whole.items() for row in rows
                 for text in kind_of(params.tasks[name]).text_fields(params.tasks[name])]
    vocab = build_vocab(sentences, min_count=words.min_count, lowercase=words.lowercase, max_word_chars=words.max_chars)
    for name, rows in whole.items():
        task, kind = lazy[name], kind_of(params.tasks[name])
        texts = kind.text_fields(params.tasks[name])
        assert isinstance(task.rows, TaskRows) and len(task.rows) == len(rows) > 0
        assert list(task.rows) == rows and task.rows[5] == rows[5] and task.rows[-3:] == rows[-3:]
        inputs = [tuple(row[text] for text in texts) for row in rows]
        assert list(task.inputs) == inputs and task.inputs[7] == inputs[7]
        assert task.gold == [kind.target(row) for row in rows]
        assert task.lengths().tolist() == [sum(map(len, x)) for x in inputs]
        task.encode(vocab)
        assert isinstance(task.examples, EncodedRows) and len(task.examples) == len(rows)
        label_ids = {label: i for i, label in enumerate(task.labels)}
        for i, row in enumerate(rows):
            example = task.examples[i]
            assert type(example.target) is type(kind.target_ids(row, label_ids))
            assert example.target == kind.target_ids(row, label_ids)
            for (words_a, chars_a), (words_b, chars_b) in zip(example.texts, vocab.encode_texts(list(inputs[i])),
                                                              strict=True):
                assert words_a.dtype == words_b.dtype and chars_a.dtype == chars_b.dtype
                assert np.array_equal(words_a, words_b) and np.array_equal(chars_a, chars_b)
                assert chars_a.shape == chars_b.shape


def same_example(a, b) -> bool:
    """Equal target (value and type) and equal arrays (values, dtypes, shapes) text by text."""
    return (type(a.target) is type(b.target) and a.target == b.target and len(a.texts) == len(b.texts)
            and all(x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)
                    for text_a, text_b in zip(a.texts, b.texts) for x, y in zip(text_a, text_b, strict=True)))


def test_batches_encoded_when_drawn_are_the_eagerly_encoded_examples(interleaved_dir):
    """Every batch of two epochs of the loop's own streams, drawn through next_batch (rows taken from the store
    and encoded then), holds exactly the Examples that encoding every row of the split up front gave, and
    collates to the same tensors and targets; on a file of many row groups, tasks interleaved."""
    params = tiny_params(pairs=True)
    cfg = params.training
    data, vocab = load_training_data(params, interleaved_dir)
    whole = eager(interleaved_dir, "train", params.tasks)
    for name, task in data.items():
        kind = kind_of(task.options)
        texts, label_ids = kind.text_fields(task.options), {label: i for i, label in enumerate(task.labels)}
        up_front = [Example(vocab.encode_texts([row[t] for t in texts]), kind.target_ids(row, label_ids))
                    for row in whole[name]]
        assert all(same_example(a, b) for a, b in zip(task.examples, up_front, strict=True)), "a pass in order"
        stream = BucketBatches(task.lengths(), batch_size=cfg.batch_size, unit=cfg.batch_unit,
                               pool_size=cfg.pool_size, seed=cfg.seed, name=name)
        reference = BucketBatches(task.lengths(), batch_size=cfg.batch_size, unit=cfg.batch_unit,
                                  pool_size=cfg.pool_size, seed=cfg.seed, name=name)
        drawn = 0
        while reference.epoch < 2:
            index = next(reference)
            batch = next_batch(task, stream)
            assert batch.index == index
            assert all(same_example(a, up_front[i]) for a, i in zip(task.examples_at(index), index, strict=True))
            expected = collate([up_front[i] for i in index], index=index)
            for a, b in zip(batch.texts, expected.texts, strict=True):
                assert all(getattr(a, f).equal(getattr(b, f)) for f in ("words", "chars", "lengths", "mask"))
            targets = kind.collate_targets([up_front[i].target for i in index], expected.texts[0].words.size(1))
            assert batch.targets.equal(targets) and batch.targets.dtype == targets.dtype
            drawn += len(index)
        assert drawn >= 2 * len(up_front) - len(index), "two epochs cover every example twice"


@pytest.mark.parametrize(("layout", "store_rows"), [("interleaved", 64), ("one_group", 5)])
def test_rows_are_taken_in_any_order_with_negatives_and_bounds(layout, store_rows, pairs_dir, interleaved_dir,
                                                                monkeypatch):
    """From a store of small record batches (5 rows: a decoded batch cut into several) or of what the file's
    row groups of 7 give."""
    monkeypatch.setattr(task_rows, "STORE_ROWS", store_rows)
    data_dir = pairs_dir if layout == "one_group" else interleaved_dir
    params = tiny_params(pairs=True)
    data = read_split(data_dir, "train", params.tasks, read_labels(data_dir / "labels.json"))
    whole = eager(data_dir, "train", params.tasks)
    for name, task in data.items():
        rows, n = whole[name], len(whole[name])
        index = np.random.default_rng(1).permutation(n).tolist() + [0, 0, -1]
        assert task.rows.take(index) == [rows[i] for i in index]
        assert task.rows.take([]) == []
        with pytest.raises(IndexError, match=f"row {n} of task {name!r}, which has {n}"):
            task.rows.take([0, n])
    positions = data["pos"].rows.positions
    rows_in_file = pq.ParquetFile(data_dir / "train.parquet").metadata.num_rows
    assert positions.dtype == np.min_scalar_type(rows_in_file), "the smallest type that holds any row number"
    assert positions.dtype.itemsize < 8 and data["pos"].lengths().dtype == np.uint8
    with pytest.raises(RuntimeError, match="call encode"):
        data["pos"].examples_at([0])


def test_assigned_rows_are_what_inputs_and_gold_read(unified_dir):
    """bench/training.py cuts the dev sets to two rows by assigning a list."""
    params = tiny_params()
    data = read_split(unified_dir, "dev", params.tasks, read_labels(unified_dir / "labels.json"))
    pos: TaskData = data["pos"]
    first = pos.rows[:2]
    pos.rows = first
    assert [x[0] for x in pos.inputs] == [row["tokens"] for row in first] and pos.gold == [row["tags"] for row in first]
    assert pos.lengths().tolist() == [len(row["tokens"]) for row in first]


def test_a_task_missing_from_the_split_or_the_labels_is_an_error(unified_dir, tmp_path):
    params = tiny_params()
    labels = read_labels(unified_dir / "labels.json")
    with pytest.raises(ValueError, match="'pos' is configured but the dataset's labels have none"):
        read_split(unified_dir, "train", params.tasks, {k: v for k, v in labels.items() if k != "pos"})
    table = pq.read_table(unified_dir / "dev.parquet")
    pq.write_table(table.filter(np.array([task != "ner" for task in table.column("task").to_pylist()])),
                   tmp_path / "dev.parquet")
    (tmp_path / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    with pytest.raises(ValueError, match="task 'ner' has no dev examples"):
        read_split(tmp_path, "dev", params.tasks, labels)
    pq.write_table(table.drop_columns(["tags"]), tmp_path / "dev.parquet")
    with pytest.raises(ValueError, match=r"dev.parquet has no column \['tags'\] for task 'pos'"):
        read_split(tmp_path, "dev", params.tasks, labels)


def plain_epoch(lengths: np.ndarray, size: int, unit: str, pool_size: int, seed: list[int]) -> list[list[int]]:
    """An epoch's batches as the batching made them with lists of Python ints (before the arrays of issue 17)."""
    def cut(order):
        if unit == "sentences":
            return [order[i : i + size].tolist() for i in range(0, len(order), size)]
        batches, current, longest = [], [], 0
        for i in order.tolist():
            width = max(longest, int(lengths[i]))
            if current and (len(current) + 1) * width > size:
                batches.append(current)
                current, width = [], int(lengths[i])
            current.append(i)
            longest = width
        return batches + ([current] if current else [])

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    if pool_size == 1:
        batches = cut(order)
    else:
        batches = [b for start in range(0, len(order), pool_size)
                   for b in cut(order[start : start + pool_size][np.argsort(lengths[order[start : start + pool_size]],
                                                                            kind="stable")])]
    return [batches[i] for i in rng.permutation(len(batches))]


@pytest.mark.parametrize(("unit", "size", "pool_size"), [("tokens", 200, 64), ("tokens", 30, 1), ("sentences", 8, 64),
                                                          ("sentences", 7, 1), ("tokens", 2000, 2048)])
def test_a_stream_kept_as_arrays_gives_the_batches_of_lists(unit, size, pool_size):
    """The stream holds an epoch as arrays (4 bytes a sentence) and hands out the very batches, Python ints,
    that the list-based cut gave, epoch after epoch, with lengths in a small unsigned type or not."""
    lengths = np.random.default_rng(2).integers(1, 60, 3001)
    for given in (lengths, lengths.astype(np.uint16)):
        stream = BucketBatches(given, batch_size=size, unit=unit, pool_size=pool_size, seed=4, name="t")
        expected = [b for epoch in range(3)
                    for b in plain_epoch(lengths, size, unit, pool_size, [4, zlib.crc32(b"t"), epoch])]
        drawn = [next(stream) for _ in expected]
        assert drawn == expected and all(type(i) is int for b in drawn for i in b)
        assert stream.batches_of(0).order.dtype == np.uint32
