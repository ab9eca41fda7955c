"""The command line's one error boundary: every expected failure is one `error:` line naming the file and the
reason (and the next step where a stage before is missing), exit code 1, no traceback; anything else is
reported as a bug, with its traceback. Enumerated here, case by case."""

from __future__ import annotations

import sys

import pytest
import yaml

from mtl import cli
from mtl.model import save_model
from tests.model.conftest import tiny_model
from tests.training.conftest import params_tasks


@pytest.fixture
def project(tmp_path):
    """A params.yaml (the synthetic tasks, an empty registry) and a saved tiny model beside it."""
    data = params_tasks()
    data["paths"] = {"run": "run", "reports": "reports", "unified": "unified"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    save_model(tiny_model(), tmp_path / "model")
    return tmp_path


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["mtl", *args])
    with pytest.raises(SystemExit) as stop:
        cli.main()
    captured = capsys.readouterr()
    return stop.value.code, captured.out + captured.err


def one_error(code: int, output: str) -> str:
    assert code == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


def test_evaluate_without_a_model_says_to_train_first(project, monkeypatch, capsys):
    line = one_error(*run_main(monkeypatch, capsys, "evaluate", "--params", str(project / "params.yaml")))
    assert "run/model/config.json: missing" in line and "(run `mtl train (or make run)` first)" in line


def test_gate_without_metrics_says_to_evaluate_first(project, monkeypatch, capsys):
    line = one_error(*run_main(monkeypatch, capsys, "gate", "--params", str(project / "params.yaml")))
    assert "metrics.json" in line and "(run `mtl evaluate` first)" in line


def test_predict_with_an_empty_registry_says_what_to_do(project, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", open(project / "params.yaml"))
    line = one_error(*run_main(monkeypatch, capsys, "predict", "--params", str(project / "params.yaml")))
    assert "no production model yet: run `make run`" in line and "--model runs/candidate/model" in line


def test_predict_input_that_is_not_utf8_names_the_file(project, monkeypatch, capsys):
    (project / "in.txt").write_bytes(b"fine\nbad \xff byte\n")
    line = one_error(*run_main(monkeypatch, capsys, "predict", "--model", str(project / "model"), "--input",
                               str(project / "in.txt"), "--params", str(project / "params.yaml")))
    assert "in.txt: not UTF-8 text (byte" in line


def test_predict_on_a_truncated_model_names_the_file(project, monkeypatch, capsys):
    weights = project / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    (project / "in.txt").write_text("a b\n")
    line = one_error(*run_main(monkeypatch, capsys, "predict", "--model", str(project / "model"), "--input",
                               str(project / "in.txt"), "--params", str(project / "params.yaml")))
    assert "model.safetensors: not a readable safetensors file" in line


def test_predict_pairs_need_one_tab_per_line(project, monkeypatch, capsys):
    (project / "in.txt").write_text("a man\tsomeone\nno tab here\n")
    line = one_error(*run_main(monkeypatch, capsys, "predict", "--pairs", "--model", str(project / "model"),
                               "--input", str(project / "in.txt"), "--params", str(project / "params.yaml")))
    assert "line(s) [2]" in line and "TAB" in line


def test_an_unknown_tokenizer_is_a_usage_error(project, monkeypatch, capsys):
    code, output = run_main(monkeypatch, capsys, "predict", "--tokenizer", "spacy", "--params",
                            str(project / "params.yaml"))
    assert code == 2 and "'spacy' is not one of" in output and "Traceback" not in output


def test_a_params_typo_suggests_the_key(project, monkeypatch, capsys):
    data = yaml.safe_load((project / "params.yaml").read_text())
    data["training"] = {"batchsize": 4}
    (project / "params.yaml").write_text(yaml.safe_dump(data))
    line = one_error(*run_main(monkeypatch, capsys, "unify", "--params", str(project / "params.yaml")))
    assert "training.batchsize: unknown key; did you mean 'batch_size'?" in line


def test_an_unexpected_exception_is_reported_as_a_bug_with_its_traceback(project, monkeypatch, capsys):
    import mtl.dataset

    def broken(params):
        raise RuntimeError("a bug")

    monkeypatch.setattr(mtl.dataset, "unify", broken)
    monkeypatch.setattr(sys, "argv", ["mtl", "unify", "--params", str(project / "params.yaml")])
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main()
    assert "an unexpected failure, which is a bug in mtl" in capsys.readouterr().err


def test_version(monkeypatch, capsys):
    code, output = run_main(monkeypatch, capsys, "--version")
    assert code == 0 and output.startswith("mtl ")


def test_every_command_has_an_example(monkeypatch, capsys):
    import typer.main

    group = typer.main.get_command(cli.app)
    commands = [(name, command) for name, command in group.commands.items()]
    for name, sub in list(commands):
        if hasattr(sub, "commands"):
            commands += [(f"{name} {child}", command) for child, command in sub.commands.items()]
    missing = [name for name, command in commands if not hasattr(command, "commands")
               and "Example:" not in (command.help or "")]
    assert missing == []
