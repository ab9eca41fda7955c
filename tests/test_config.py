"""params.yaml parsing: the default file is valid and equals the code's defaults; typos and bad values are
errors naming the full key path as written in params (with the nearest valid key for an unknown one); every
path stays inside the project unless params say otherwise."""

from __future__ import annotations

import os

import pytest
import yaml

from mtl.config import ConfigError, GateConfig, ModelConfig, Params, TrainingConfig, load_params


def test_default_params_parse(default_params):
    assert set(default_params.corpora) == {"ud_english_ewt", "wnut17", "sst2", "sick_entailment", "sick_relatedness",
                                           "trec"}
    assert default_params.corpora["trec"].reader_options("train").encoding == "latin-1"
    # per-file options override the corpus's: SST-2's labelled test file has no header
    assert default_params.corpora["sst2"].reader_options("test").header is False
    assert default_params.corpora["sst2"].reader_options("train").header is True
    assert default_params.tasks["ner"].scheme == "bio" and default_params.tasks["ner"].crf is True
    assert default_params.tasks["relatedness"].range == (1.0, 5.0)


def test_code_defaults_equal_the_shipped_params(default_params):
    """A section left out of params.yaml behaves as the shipped file says (no second set of defaults)."""
    assert ModelConfig() == default_params.model
    # processes is the one machine-specific knob: the code's 1 suits one GPU, the shipped 2 the 2-core CPUs
    shipped = default_params.training.model_dump(exclude={"loss_weights", "processes"})
    assert TrainingConfig().model_dump(exclude={"loss_weights", "processes"}) == shipped
    assert GateConfig(tasks=default_params.gate.tasks) == default_params.gate
    for section in ("validation", "unify", "baseline", "evaluation", "registry", "schedule", "paths"):
        assert type(getattr(default_params, section))() == getattr(default_params, section), section


def write(tmp_path, data) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(validaton={}), r"validaton: unknown key; did you mean 'validation'\?"),
        (lambda p: p["training"].update(batchsize=2), r"training.batchsize: unknown key; did you mean 'batch_size'\?"),
        (lambda p: p["model"]["bilstm"].update(hidden=3), r"model.bilstm.hidden: unknown key; did you mean 'hidden_size'"),
        (lambda p: p["tasks"]["ner"].update(schema="bio"), r"tasks.ner.schema: unknown option of kind tagging; did you mean 'scheme'"),
        (lambda p: p["tasks"]["ner"].update(kind="tagger"), r"tasks.ner.kind: unknown task kind 'tagger'"),
        (lambda p: p["tasks"]["relatedness"].update(labels=["a"]), r"tasks.relatedness: .*scores, not labels"),
        (lambda p: p["validation"].update(max_quarantine_fraction=2), "validation.max_quarantine_fraction"),
        (lambda p: p["corpora"]["trec"]["options"].update(granularty="fine"),
         r"corpora.trec.options.granularty: unknown option of format label_prefixed; did you mean 'granularity'"),
        (lambda p: p["corpora"]["sst2"]["options"].update(text_column={"a": 1}), r"corpora.sst2.options.text_column: "),
        (lambda p: p["corpora"]["sst2"]["files"]["test"]["options"].update(header="maybe"),
         r"corpora.sst2.files.test.options.header: "),
        (lambda p: p["corpora"]["trec"].update(task="questions"), r"corpora.trec.task: task 'questions' is not declared"),
        (lambda p: p["corpora"]["trec"].update(format="xml"), r"corpora.trec.format: unknown format"),
        (lambda p: p["corpora"]["trec"]["files"]["train"].update(sha256="abc"), "corpora.trec.files.train.sha256"),
        (lambda p: p["gate"]["tasks"].pop("question"), r"gate.tasks: task 'question' has no gate entry"),
        (lambda p: p["corpora"].pop("trec"), r"tasks.question: no corpus feeds this task"),
    ],
)
def test_invalid_params_name_the_key(tmp_path, repo_root, mutate, message):
    data = yaml.safe_load((repo_root / "params.yaml").read_text())
    mutate(data)
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, data))


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda p, t: p["corpora"]["trec"]["files"]["train"].update(path="/etc/passwd"), "corpora.trec.files.train.path"),
        (lambda p, t: p["corpora"]["trec"]["files"]["train"].update(path="../../secret"), "corpora.trec.files.train.path"),
        (lambda p, t: p["paths"].update(interim="../../elsewhere"), "paths.interim"),
        (lambda p, t: p["paths"].update(reports=str(t / "outside")), "paths.reports"),
        (lambda p, t: p["registry"].update(uri="../registry"), "registry.uri"),
        (lambda p, t: p["paths"].update(run="link/run"), "paths.run"),  # link -> a folder outside the project
        (lambda p, t: p["paths"].update(metrics="../metrics.json"), "paths.metrics"),
    ],
)
def test_paths_stay_inside_the_project(tmp_path, repo_root, mutate, key):
    project = tmp_path / "project"
    project.mkdir()
    os.symlink(tmp_path, project / "link")
    data = yaml.safe_load((repo_root / "params.yaml").read_text())
    mutate(data, tmp_path)
    with pytest.raises(ConfigError, match=rf"{key}: "):
        load_params(write(project, data))
    if key != "paths.metrics":  # a file name must stay a name; folders may leave when params say so
        data["paths"]["allow_outside_root"] = True
        assert isinstance(load_params(write(project, data)), Params)


def test_an_absolute_registry_folder_and_an_s3_uri_are_deliberate(tmp_path, repo_root):
    data = yaml.safe_load((repo_root / "params.yaml").read_text())
    for uri in (str(tmp_path / "models"), "s3://bucket/models"):
        data["registry"]["uri"] = uri
        assert load_params(write(tmp_path, data)).registry.uri == uri


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")
