"""Extra evaluation sets: a corpus declared with only a test file, its labels mapped from another NER scheme, is
ingested like any corpus, never trained on, scored by the evaluate stage beside dev and test, and judged by the
gate when gate.extra names it (a floor, and no drop against production on the same set): params alone."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from harness.candidate import EXTRA, build_once, candidate_params
from mtl.config import ConfigError, Params
from mtl.extra import relabel
from mtl.records import Record
from mtl.stages.gate import gate_candidate


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory.getbasetemp() / "candidate")


def conll_sentences(built) -> list[list[str]]:
    text = (built.params.raw_dir / EXTRA / "test.conll").read_text(encoding="utf-8")
    return [[line.split("\t")[1] for line in block.splitlines()] for block in text.strip().split("\n\n")]


def test_a_corpus_without_train_data_must_be_an_extra_set(tmp_path):
    params = candidate_params(tmp_path).model_dump(mode="json")
    del params["evaluation"]["extra"], params["gate"]["extra"]
    with pytest.raises(ValueError, match=f"corpora.{EXTRA}.files: a corpus needs train data .* extra evaluation set"):
        Params.model_validate(params)
    params["evaluation"]["extra"] = {EXTRA: {}}
    Params.model_validate(params)  # declared an extra set: no train data needed
    params["gate"]["extra"] = {"corpus_ner": {"floor": 0.1}}
    with pytest.raises(ValueError, match="gate.extra.corpus_ner: not an extra evaluation set"):
        Params.model_validate(params)


def test_gate_extra_metric_must_be_the_tasks(tmp_path):
    with pytest.raises(ValueError, match="gate.extra.conll_ner.metric: unknown metric 'pearson'"):
        candidate_params(tmp_path, gate={"extra": {EXTRA: {"floor": 0.1, "metric": "pearson"}}})


def test_relabel_maps_types_and_refuses_what_has_no_counterpart():
    tagged = Record("u1", "ner", "test", {"tokens": ["Ann", "at", "Acme"], "tags": ["B-PER", "O", "B-MISC"]}, "c/f:1")
    labelled = Record("u2", "sentiment", "test", {"tokens": ["meh"], "label": "neutral"}, "c/f:5", raw="meh\tneutral")
    kept = Record("u3", "sentiment", "test", {"tokens": ["yay"], "label": "pos"}, "c/f:6")
    out, refused = relabel([tagged, labelled, kept], {"PER": "person", "MISC": None, "neutral": None, "pos": "positive"},
                           "other")
    assert [r.fields.get("tags") or r.fields["label"] for r in out] == [["B-person", "O", "O"], "positive"]
    [why] = refused
    assert (why.source, why.key, why.raw) == ("c/f:5", "no_counterpart", "meh\tneutral")
    assert "evaluation.extra.other.labels" in why.reason


def test_the_extra_set_is_ingested_mapped_and_kept_out_of_training(built):
    params = built.params
    report = json.loads((params.interim_dir / EXTRA / params.paths.ingest_report).read_text())
    sentences = conll_sentences(built)
    assert (report["read"], report["accepted"], report["quarantined"]) == (len(sentences), len(sentences), 0)
    extra = pq.read_table(params.unified_dir / params.paths.extra / f"{EXTRA}.parquet").to_pylist()
    gold = [tag for sentence in sentences for tag in sentence]
    mapped = [tag for row in extra for tag in row["tags"]]
    assert mapped.count("B-person") == gold.count("B-PER") and mapped.count("B-location") == gold.count("B-LOC")
    assert "B-MISC" in gold and mapped.count("O") == gold.count("O") + gold.count("B-MISC")  # MISC: no counterpart
    for split in ("train", "dev", "test"):
        sources = set(pq.read_table(params.unified_dir / f"{split}.parquet").column("source").to_pylist())
        assert not any(source.startswith(f"{EXTRA}/") for source in sources)
    assert json.loads((params.unified_dir / params.paths.manifest).read_text())["tasks"]["ner"]["corpora"] == ["corpus_ner"]


def test_the_evaluate_stage_scores_it_beside_dev_and_test(built):
    params = built.params
    metrics = json.loads(params.report("metrics").read_text())
    row = metrics["extra"][EXTRA]["per_task"]["ner"]
    assert row["n"] == len(conll_sentences(built)) and row["metric"] == "entity_f1"
    assert set(row["per_class"]) <= {"person", "location"}  # per entity type, in the task's types
    headline = json.loads(params.report("headline").read_text())
    assert headline["ner"]["entity_f1"] == {"dev": metrics["dev"]["per_task"]["ner"]["value"],
                                            "test": metrics["test"]["per_task"]["ner"]["value"], EXTRA: row["value"]}


def test_the_gate_judges_it_against_production_on_the_same_set(built):
    first = {row["task"]: row for row in built.first["rows"]}
    second = {row["task"]: row for row in built.second["rows"]}
    assert "first run" in first[f"ner@{EXTRA}"]["reason"]
    compared = second[f"ner@{EXTRA}"]
    assert compared["diff_ci"] is not None and compared["n"] == len(conll_sentences(built))
    production = json.loads(built.params.report("production_metrics").read_text())
    assert production["extra"][EXTRA]["per_task"]["ner"]["value"] == compared["production"]


def test_a_floor_on_the_extra_set_fails_the_candidate(built):
    metrics = json.loads(built.params.report("metrics").read_text())
    value = metrics["extra"][EXTRA]["per_task"]["ner"]["value"]
    params = built.params.model_copy(update={"gate": built.params.gate.model_copy(update={"extra": {
        EXTRA: built.params.gate.extra[EXTRA].model_copy(update={"floor": value + 0.5})}})})
    try:
        gate = gate_candidate(params)
        row = next(row for row in gate["rows"] if row["task"] == f"ner@{EXTRA}")
        assert gate["verdict"] == "fail" and row["verdict"] == "fail" and "< floor" in row["reason"]
        assert all(r["verdict"] == "pass" for r in gate["rows"] if r["task"] != f"ner@{EXTRA}")
    finally:
        gate_candidate(built.params)  # the shared candidate's reports as they were


def test_params_name_an_extra_set_or_fail_with_the_key(tmp_path):
    (tmp_path / "params.yaml").write_text("corpora: {}\ntasks: {}\ngate: {tasks: {}}\nevaluation: {extra: {nope: {}}}\n")
    from mtl.config import load_params

    with pytest.raises(ConfigError, match="evaluation.extra.nope: not a corpus"):
        load_params(tmp_path / "params.yaml")
