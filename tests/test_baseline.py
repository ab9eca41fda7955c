"""Single-task baselines: one model per task, each with exactly its own head, under either budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mtl.baseline import baseline_dir, planned_steps, single_task_params, train_baselines
from mtl.cli import app
from mtl.config import Params, Paths
from mtl.model import load_model
from tests.training.conftest import TASKS, tiny_params, write_unified


def workspace(tmp_path: Path, **training) -> Params:
    """Tiny params rooted in tmp_path, its unified dataset the synthetic one (labels.json lists all 4 tasks)."""
    write_unified(tmp_path / "unified", n_train=24, n_eval=8)
    params = tiny_params(max_steps=12, eval_every=6, checkpoint_every=6, **training)
    return params.model_copy(update={"root": tmp_path, "paths": Paths(unified="unified", run="run")})


def summary_of(folder) -> dict:
    return json.loads((folder / "training.json").read_text())


def test_every_task_gets_a_model_with_exactly_its_own_head(tmp_path):
    params = workspace(tmp_path)
    params = params.model_copy(update={"baseline": params.baseline.model_copy(update={"budget": "steps"})})
    results = train_baselines(params)
    assert list(results) == list(TASKS)
    for task in TASKS:
        folder = baseline_dir(params, task)
        model = load_model(folder / "model")
        assert list(model.config.tasks) == [task], "labels.json names every task; the model has one head"
        assert list(model.heads) == [task]
        assert json.loads((folder / "model/labels.json").read_text()).keys() == {task}
        summary = summary_of(folder)
        assert summary["max_steps"] == 12 and summary["stopped"] == "max_steps"
        assert summary["steps"] == 12 == results[task].steps, "steps budget: the multi-task run's max_steps"
        assert not (folder / "checkpoints").exists()
        assert list(model.params["tasks"]) == [task], "the params it was trained with are saved beside it"


def test_one_task_by_name_and_unknown_tasks_refused(tmp_path):
    params = workspace(tmp_path)
    train_baselines(params, ["sentiment"])
    assert (baseline_dir(params, "sentiment") / "model").is_dir()
    assert not (baseline_dir(params, "pos")).exists()
    with pytest.raises(ValueError, match="unknown task"):
        train_baselines(params, ["nope"])


def test_examples_budget_is_the_samplers_planned_share():
    sizes = {"pos": 100, "ner": 100, "sentiment": 600, "question": 200}
    uniform = tiny_params(max_steps=1000)
    assert planned_steps(uniform, sizes) == dict.fromkeys(TASKS, 250)
    proportional = tiny_params(max_steps=1000, sampler={"kind": "proportional", "window": 300})
    assert planned_steps(proportional, sizes) == {"pos": 100, "ner": 100, "sentiment": 600, "question": 200}
    annealed = planned_steps(tiny_params(max_steps=1000, sampler={"kind": "annealed", "window": 100}), sizes)
    assert sum(annealed.values()) == pytest.approx(1000, abs=2)
    assert annealed["sentiment"] > 250 > annealed["pos"], "proportional early, flatter later, never uniform"
    every_task = tiny_params(max_steps=1000, weighting={"kind": "uncertainty"})
    assert planned_steps(every_task, sizes) == dict.fromkeys(TASKS, 1000), "each step trains every task"


def test_single_task_params_drop_what_names_other_tasks():
    params = tiny_params(
        loss_weights={"pos": 2.0, "ner": 0.5},
        sampler={"kind": "explicit", "probabilities": {"pos": 0.4, "ner": 0.2, "sentiment": 0.2, "question": 0.2}},
    )
    params = Params.model_validate({**params.model_dump(), "model": {**params.model.model_dump(),
                                                                      "sharing": "adversarial"}})
    single = single_task_params(params, "ner", 7)
    assert list(single.tasks) == ["ner"] and list(single.gate.tasks) == ["ner"]
    assert list(single.corpora) == ["corpus_ner"]
    assert single.training.max_steps == 7 and single.training.loss_weights == {}
    assert single.training.sampler.probabilities == {"ner": 1.0}
    assert single.model.sharing == "hard", "one task shares with no one"
    assert single.model.model_dump(exclude={"sharing"}) == params.model.model_dump(exclude={"sharing"})
    assert single.training.lr == params.training.lr
    with pytest.raises(ValueError, match="unknown task"):
        single_task_params(params, "nope", 7)


def test_mtl_baseline_trains_the_planned_steps_under_the_examples_budget(tmp_path):
    params = workspace(tmp_path)
    data = params.model_dump(mode="json", exclude={"root"})
    data["baseline"] = {"budget": "examples"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["baseline", "--task", "question", "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 0, result.output
    assert "question: trained 3 steps (examples budget)" in result.output, "uniform over 4 tasks: 12 / 4"
    summary = summary_of(tmp_path / "run/baselines/question")
    assert (summary["max_steps"], summary["steps"]) == (3, 3)
    assert not (tmp_path / "run/baselines/pos").exists()
