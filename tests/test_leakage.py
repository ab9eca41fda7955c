"""Cross-task leakage: a task's dev/test texts in another task's train split, exact (after folding case,
whitespace and punctuation) or near-duplicate (word-bigram Jaccard), per task pair; run by unify, which warns
or fails as params say."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtl.config import LeakageConfig, Params
from mtl.dataset import unify
from mtl.ingest import KEY_COLUMNS
from mtl.leakage import LeakageFound, TaskTexts, find_leakage, leaking, normalise, partitioned_join
from mtl.minhash import Bands

CONFIG = LeakageConfig(similarity=0.8, min_tokens=3, examples=5)


def texts(name: str, splits: dict[str, list[list[str]]], pairs: bool = False) -> TaskTexts:
    """A task's texts from plain strings ("a b c", or "a b ||| c d" for a pair)."""
    return TaskTexts(name, 2 if pairs else 1, {
        split: [(f"{name}/{split}:{i}", tuple(part.split() for part in line.split(" ||| ")))
                for i, line in enumerate(lines)]
        for split, lines in splits.items()})


def row(report: dict, evaluated: str, split: str, trained: str) -> dict:
    return next(r for r in report["pairs"] if (r["evaluated"], r["split"], r["trained"]) == (evaluated, split, trained))


def test_normalising_folds_case_whitespace_and_punctuation():
    assert normalise(["Don't", "STOP", "!", "  me", "."]) == normalise(["dont", "stop", "me"]) == ["dont", "stop", "me"]


def test_exact_and_near_duplicates_are_counted_per_task_pair():
    pos = texts("pos", {"train": ["a quiet morning in the old town"],
                        "test": ["The cat sat on the mat !", "nothing like the other sentences here", "Hi there"]})
    sentiment = texts("sentiment", {"train": ["the cat sat on the mat", "a truly great film about the sea and boats",
                                              "hi there"],
                                    "dev": ["a truly great film about the sea and the boats"]})
    report = find_leakage([pos, sentiment], CONFIG)
    exact = row(report, "pos", "test", "sentiment")
    assert (exact["texts"], exact["exact"], exact["near"]) == (2, 1, 0)  # "Hi there": under min_tokens, not counted
    assert exact["examples"][0]["train_source"] == "sentiment/train:0"
    near = row(report, "sentiment", "dev", "pos")
    assert (near["exact"], near["near"]) == (0, 0)
    assert not any(r["evaluated"] == r["trained"] for r in report["pairs"])  # within a task: validation's check
    assert {(r["evaluated"], r["split"], r["trained"]) for r in leaking(report)} == {("pos", "test", "sentiment")}


def test_near_duplicates_keep_word_order():
    sentence = "the white dog chases the brown cat around the old stone fountain in the middle of the {}"
    trained = texts("a", {"train": [sentence.format("park"), "the dog chases the cat"]})
    evaluated = texts("b", {"test": [sentence.format("garden"),  # the last word changed: 16 of 20 bigrams shared
                                     "the cat chases the dog"]})  # the same words, roles swapped: another sentence
    found = row(find_leakage([evaluated, trained], CONFIG), "b", "test", "a")
    assert (found["exact"], found["near"]) == (0, 1)
    assert found["examples"][0]["source"] == "b/test:0" and 0.8 <= found["examples"][0]["similarity"] < 1


def test_pair_tasks_compare_pairs_and_single_text_tasks_each_text():
    entailment = texts("entailment", {"test": ["a man plays a guitar ||| a person plays music"]}, pairs=True)
    relatedness = texts("relatedness", {"train": ["a man plays a guitar ||| nobody is playing anything"]}, pairs=True)
    captions = texts("captions", {"train": ["A man plays a guitar ."]})
    report = find_leakage([entailment, relatedness, captions], CONFIG)
    assert row(report, "entailment", "test", "relatedness")["exact"] == 0  # the pair differs
    by_text = row(report, "entailment", "test", "captions")
    assert (by_text["unit"], by_text["texts"], by_text["exact"]) == ("text", 2, 1)


def test_extra_sets_are_checked_against_every_task_their_own_included():
    ner = texts("ner", {"train": ["Alice flew to Paris last week"]})
    extra = texts("ner@other", {"test": ["alice flew to paris last week"]})
    report = find_leakage([ner, extra], CONFIG)
    assert row(report, "ner@other", "test", "ner")["exact"] == 1
    assert not any(r["trained"] == "ner@other" for r in report["pairs"])  # never trained on


def bigrams(line: str) -> set[str]:
    words = ["<s>", *line.split(), "</s>"]
    return set(zip(words, words[1:]))


def test_minhash_lsh_finds_every_pair_a_brute_force_finds():
    """The LSH candidates are verified by their exact Jaccard: the report must equal a brute-force join's (no miss
    on these, none below the threshold), scores included."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(12)]
    train = [" ".join(rng.choices(words, k=rng.randint(5, 12))) for _ in range(300)]
    evaluated = [" ".join(rng.choices(words, k=rng.randint(5, 12))) for _ in range(200)]
    train += [line + " w0" for line in evaluated[:40]]  # near-duplicates planted: a word appended
    config = LeakageConfig(similarity=0.5, min_tokens=3, examples=1000)
    report = find_leakage([texts("e", {"test": evaluated}), texts("t", {"train": train})], config)
    found = {example["text"]: example["similarity"] for example in row(report, "e", "test", "t")["examples"]}
    expected = {}
    for line in evaluated:
        if line in train:
            expected[line] = 1.0
            continue
        best = max(len(bigrams(line) & bigrams(t)) / len(bigrams(line) | bigrams(t)) for t in train)
        if best >= 0.5:
            expected[line] = round(best, 4)  # the same ratio of two small integers, rounded as the report does
    assert found == expected
    assert sum(score < 1 for score in expected.values()) >= 20  # the planted ones, at least: tested on matches too


def test_the_bands_miss_a_pair_at_the_threshold_rarely_and_a_dissimilar_one_is_rarely_a_candidate():
    bands = Bands.for_threshold(0.8)
    assert bands.hit_chance(0.8) >= 0.999 and bands.hit_chance(0.2) < 0.05  # a chance candidate costs one Jaccard


# --- in unify: the report beside the dataset, warn or fail ----------------------------------------------


def write_interim(params: Params, corpus: str, task: str, rows: list[tuple[str, str, dict]]) -> None:
    columns = {name: [] for name, _ in KEY_COLUMNS}
    fields = {"tokens": [], "label": []}
    for i, (split, text, extra) in enumerate(rows):
        for name, value in (("uid", f"{corpus}{i:04x}" * 2), ("task", task), ("split", split),
                            ("source", f"{corpus}/f:{i}")):
            columns[name].append(value)
        fields["tokens"].append(text.split())
        fields["label"].append(extra["label"])
    shards = params.interim_dir / corpus / params.paths.records  # a folder of shards, as mtl ingest writes it
    shards.mkdir(parents=True)
    pq.write_table(pa.table({**columns, **fields}), shards / "part-00000.parquet")


def leaky_params(tmp_path, action: str) -> Params:
    corpora = {name: {"task": task, "format": "jsonl", "files": {s: {"path": f"{s}.jsonl", "sha256": "0" * 64}
                                                               for s in ("train", "dev", "test")}}
               for name, task in (("reviews", "sentiment"), ("questions", "question"))}
    params = Params.model_validate({"root": tmp_path, "corpora": corpora, "leakage": {"action": action},
                                    "tasks": {"sentiment": {"kind": "classification"}, "question": {"kind": "classification"}},
                                    "gate": {"tasks": {"sentiment": {"floor": 0}, "question": {"floor": 0}}}})
    shared = "what a wonderful day it is"
    write_interim(params, "reviews", "sentiment", [("train", shared, {"label": "pos"}), ("train", "bad film", {"label": "neg"}),
                                                  *((s, "fine film overall", {"label": "pos"}) for s in ("dev", "test"))])
    write_interim(params, "questions", "question", [("train", "who is it ?", {"label": "HUM"}),
                                                    ("dev", "where is the station ?", {"label": "LOC"}),
                                                    ("test", shared.capitalize() + " ?", {"label": "DESC"})])
    return params


def test_unify_writes_the_report_and_warns(tmp_path, caplog):
    params = leaky_params(tmp_path, "warn")
    unify(params)
    report = json.loads((params.unified_dir / params.paths.leakage).read_text())
    [found] = leaking(report)
    assert (found["evaluated"], found["split"], found["trained"], found["exact"]) == ("question", "test", "sentiment", 1)
    assert "questions/f:2" in caplog.text and "in sentiment's train" in caplog.text


def test_unify_fails_after_writing_when_params_say_fail(tmp_path):
    params = leaky_params(tmp_path, "fail")
    with pytest.raises(LeakageFound, match="question test: 1 exact .* in sentiment's train"):
        unify(params)
    assert (params.unified_dir / params.paths.leakage).is_file() and (params.unified_dir / "train.parquet").is_file()


def test_every_pair_of_tasks_is_reported(tmp_path):
    params = leaky_params(tmp_path, "warn")
    unify(params)
    report = json.loads((params.unified_dir / params.paths.leakage).read_text())
    combinations = {(r["evaluated"], r["split"], r["trained"]) for r in report["pairs"]}
    tasks = ("sentiment", "question")
    assert combinations == {(a, s, b) for a, b in itertools.permutations(tasks, 2) for s in ("dev", "test")}


def test_the_join_on_disk_pairs_what_an_in_memory_join_pairs_whatever_its_slices(tmp_path, monkeypatch):
    """Bucket groups and pair slices much smaller than the data (a hot key on both sides included): every pair
    with equal keys once, none other."""
    monkeypatch.setattr(partitioned_join, "FLUSH_ENTRIES", 1000)  # several appends per bucket file
    monkeypatch.setattr(partitioned_join, "JOIN_BYTES", 4096)  # many bucket groups
    monkeypatch.setattr(partitioned_join, "PAIRS", 500)
    entry = np.dtype([("key", "<u8"), ("item", "<i4")])
    rng = np.random.default_rng(7)
    sides = []
    for name, n in (("left", 3000), ("right", 5000)):
        keys = rng.integers(0, 2000, n).astype(np.uint64)
        keys[: n // 20] = 12345  # a key common to many entries of both sides: its pairs come in slices
        side = partitioned_join.PartitionedSide(tmp_path / name, entry)
        for start in range(0, n, 700):
            rows = np.empty(min(700, n - start), entry)
            rows["key"], rows["item"] = keys[start:start + 700], np.arange(start, start + len(rows))
            side.add(rows)
        sides.append((side, keys))
    (left, left_keys), (right, right_keys) = sides
    found, largest = [], 0
    for a, b in partitioned_join.join(left, right):
        assert (a["key"] == b["key"]).all()
        found += zip(a["item"].tolist(), b["item"].tolist())
        largest = max(largest, len(a))
    expected = [(i, j) for j, key in enumerate(right_keys.tolist()) for i in np.flatnonzero(left_keys == key).tolist()]
    assert sorted(found) == sorted(expected) and len(found) == len(set(found))
    assert largest <= 500 + (left_keys == 12345).sum()  # a slice: PAIRS, or one right entry's pairs past it
