"""The data stages through real DVC in a temporary git repository, on small cuts of the real corpora: the
session's dataset workspace (built by `mtl corpora pull` and the dataset flow) and copies of it; and what
`repro` reports of each stage (ran, restored from the run cache, skipped), on a two-stage pipeline."""

from __future__ import annotations

import json
import logging
import textwrap

import pyarrow.parquet as pq

from harness.workspace import copy_workspace, run
from mtl.config import load_params
from mtl.pipeline import Pending, dvc, repro, stages_that


def _ingests(params_file) -> list[str]:
    return sorted(f"ingest@{corpus}" for corpus in load_params(params_file).corpora)


def test_pull_and_repro_built_the_dataset(dataset_workspace):
    root, n = dataset_workspace.workspace.root, dataset_workspace.workspace.sentences
    assert (root / "data" / "raw.dvc").is_file(), "pull versions data/raw with DVC"
    ingests = _ingests(dataset_workspace.workspace.params_file)
    assert sorted(stage for result in dataset_workspace.result["stages"] for stage in result.ran) == [*ingests, "unify"]

    manifest = json.loads((root / "data/unified/manifest.json").read_text())
    assert manifest["tasks"]["pos"]["rows"] == {"train": n, "dev": n, "test": n}
    assert manifest["carved_dev"]["trec"]["rows"] > 0  # TREC has no dev split: one is carved from train
    trec = manifest["tasks"]["question"]["rows"]
    assert trec["train"] + trec["dev"] == n and trec["test"] == n
    train = pq.read_table(root / "data/unified/train.parquet")
    assert set(train.column("task").to_pylist()) == set(load_params(dataset_workspace.workspace.params_file).tasks)
    assert train.num_rows == manifest["splits"]["train"]["rows"]


def test_a_copy_is_up_to_date_and_reruns_only_what_new_data_touches(dataset_workspace, tmp_path, caplog):
    workspace = copy_workspace(dataset_workspace.workspace, tmp_path)
    root, n, ingests = workspace.root, workspace.sentences, _ingests(workspace.params_file)
    second = repro(root, "unify")
    assert (second.ran, second.restored) == ([], []), "a copy of a built workspace is up to date"
    assert sorted(second.skipped) == [*ingests, "unify"]

    # New data in one corpus: only that corpus's ingest and the unify stage run again, each told as it
    # goes. One `dvc status` finds what is out of date; the stages in pipeline order, as the flows run them.
    trec_test = root / "data/raw/trec/TREC_10.label"
    trec_test.write_bytes(trec_test.read_bytes() + b"HUM:ind Who wrote the unified record schema ?\n")
    pending = Pending.ask(root, "unify")
    assert pending.outdated == {"ingest@trec", "data/raw.dvc"}
    log = logging.getLogger("test.repro")
    with caplog.at_level(logging.INFO, logger="test.repro"):
        third = [pending.repro(stage, log) for stage in [*ingests, "unify"]]
    assert stages_that("ran", third) == ["ingest@trec", "unify"] and stages_that("restored", third) == []
    # Before the first stage that ran, those status found up to date started no DVC process; after it,
    # every stage goes through DVC (which skips the other ingests).
    first_run = ingests.index("ingest@trec")
    assert first_run > 0 and all(result.output == "" for result in third[:first_run])
    assert all(result.output for result in third[first_run:])
    manifest = json.loads((root / "data/unified/manifest.json").read_text())
    assert manifest["tasks"]["question"]["rows"]["test"] == n + 1
    lines = [record.getMessage() for record in caplog.records]
    assert "stage ingest@sst2: skipped, up to date" in lines
    started, ended = lines.index("stage ingest@trec: started"), _index(lines, "stage ingest@trec: ran in ")
    relayed = lines[started + 1:ended]
    assert any(line.startswith(f"ingest@trec | trec: read {n * 2 + 1},") for line in relayed), relayed
    assert _index(lines, "stage unify: started") > ended



def test_a_stage_restored_from_the_run_cache_is_told_apart_from_one_that_ran_or_was_skipped(tmp_path, caplog):
    """DVC restores a stage's outputs from its run cache when it ran before with the same deps, params and
    command: the stage did not run, but it was not up to date either."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "data.txt").write_text("one\n")
    (root / "dvc.yaml").write_text(textwrap.dedent(RUN_CACHED))
    run(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    assert repro(root, "double").ran == ["copy", "double"]
    assert repro(root, "double").skipped == ["copy", "double"]
    (root / "data.txt").write_text("two\n")
    assert repro(root, "double").ran == ["copy", "double"]

    (root / "data.txt").write_text("one\n")  # back to what ran first
    log = logging.getLogger("test.repro")
    with caplog.at_level(logging.INFO, logger="test.repro"):
        restored = repro(root, "double", log=log)
    assert (restored.ran, restored.restored, restored.skipped, restored.status) == ([], ["copy", "double"], [], "restored")
    assert "stage double: restored from DVC's run cache (it ran before with these deps and params)" in caplog.messages
    assert (root / "doubled.txt").read_text() == "one\none\n"


RUN_CACHED = """
stages:
  copy:
    cmd: python -c "open('copied.txt', 'w').write(open('data.txt').read())"
    deps: [data.txt]
    outs: [copied.txt]
  double:
    cmd: python -c "open('doubled.txt', 'w').write(open('copied.txt').read() * 2)"
    deps: [copied.txt]
    outs: [doubled.txt]
"""


def _index(lines: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))
