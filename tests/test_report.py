"""The report of an evaluated candidate: one self-contained page whose charts draw the stages' numbers, rendered in
a real headless Chromium with no console error and no network; and DVC's own views of the same run (`dvc plots
show` a line per task, offline; `dvc metrics show` the headline only).

The candidate (harness/candidate.py): five tasks of every kind and an extra evaluation set, trained, gated and
promoted as v0001, then retrained on drifted data and gated against v0001, all through the real stages.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.browser import chromium, find_chromium
from harness.candidate import EXTRA, TASKS, build_once
from mtl.registry import open_registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_once(tmp_path_factory.getbasetemp() / "candidate")


@pytest.fixture(scope="module")
def page(built) -> str:
    return built.report.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def specs(page) -> dict[str, dict]:
    """The charts by their names (data-chart), as the page embeds them."""
    embedded = json.loads(re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', page,
                                    re.S).group(1).replace("<\\/", "</"))
    names = dict(re.findall(r'<div class="chart" id="(chart-\d+)" data-chart="([^"]+)">', page))
    return {names[ident]: spec for ident, spec in embedded.items()}


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        pytest.skip("no chromium on PATH and it could not be installed (`make test` installs Debian's chromium as "
                    "root): the report is not checked in a browser here")
    with chromium() as opened:
        yield opened


def values(spec: dict, key: str) -> list[dict]:
    """The rows a chart draws that have `key` (Altair puts them in datasets; a reference line has its own)."""
    return [row for rows in spec.get("datasets", {}).values() for row in rows if key in row]


def test_the_page_loads_nothing_from_the_network(page):
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.I)
    assert "<link" not in page and "@import" not in page
    assert page.count("window.vegaEmbed=") == 1  # the bundle, inlined once


def test_every_task_has_its_section_and_charts(page, specs):
    for task in TASKS:
        assert f'<section class="task" id="task-{task}"' in page
        assert f"curves-{task}" in specs and f"scores-{task}" in specs
    # the breakdown each kind gives, on test: a confusion matrix, or per class
    assert {"confusion-sentiment-test", "confusion-entailment-test", "per-class-pos-test", "per-class-ner-test",
            "per-class-relatedness-test", f"per-class-ner-{EXTRA}"} <= set(specs)
    assert {"task-mix", "gate-floors", "gate-intervals", "drift", "leakage", "history"} <= set(specs)


def test_the_charts_draw_the_stages_numbers(built, specs):
    params = built.params
    gate = json.loads(params.report("gate").read_text())
    drawn = {row["task"]: row for row in values(specs["gate-intervals"], "task")}
    for row in gate["rows"]:
        assert drawn[row["task"]]["lo"] == row["diff_ci"][0] and drawn[row["task"]]["hi"] == row["diff_ci"][1]
    assert drawn[f"ner@{EXTRA}"]["limit"] == -gate["rows"][[r["task"] for r in gate["rows"]].index(f"ner@{EXTRA}")]["max_drop"]

    [version] = open_registry(params).list_versions()
    history = {(row["task"], row["metric"]): row["value"] for row in values(specs["history"], "task")}
    assert history == {tuple(name.split("/")): value for name, value in version["metrics"].items()}

    metrics = json.loads(params.report("metrics").read_text())
    scores = {(row["set"], row["metric"]): row["value"] for row in values(specs["scores-ner"], "set")}
    assert scores[(EXTRA, "entity_f1")] == metrics["extra"][EXTRA]["per_task"]["ner"]["metrics"]["entity_f1"]
    assert scores[("test", "accuracy")] == metrics["test"]["per_task"]["ner"]["metrics"]["accuracy"]


def test_the_page_renders_in_chromium_without_errors(built, browser):
    visit = browser.open(built.report.as_uri(), ready="document.body && document.body.dataset.charts", timeout=60)
    assert visit.ready and browser.evaluate("document.body.dataset.charts") == "ready"
    assert visit.errors == [] and visit.remote_requests == []
    drawn = browser.evaluate("""Object.fromEntries(Array.from(document.querySelectorAll('section.task')).map(s =>
        [s.dataset.task, s.querySelectorAll('.chart svg g[class*="mark-"] path, .chart svg g[class*="mark-"] rect').length]))""")
    assert set(drawn) == set(TASKS) and all(marks > 0 for marks in drawn.values()), drawn
    shot = browser.screenshot(built.report.with_suffix(".png"))  # beside the page, never in the source tree
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- DVC's views of the same run ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dvc_repo(built) -> Path:
    """The candidate's folder as a DVC workspace with the project's dvc.yaml, templates and plots setting."""
    root = built.params.root
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(REPO / "mtl/report/vega", root / "mtl/report/vega", dirs_exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(built.params.model_dump(mode="json", exclude={"root"})))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    project = configparser.ConfigParser()
    project.read(REPO / ".dvc" / "config")
    with (root / ".dvc" / "config").open("a") as config:  # the project's own plots setting
        config.write(f"[plots]\n    html_template = {project['plots']['html_template']}\n")
    return root


def dvc(root: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def dvc_plots(dvc_repo) -> Path:
    dvc(dvc_repo, "plots", "show", "-o", "dvc_plots")
    return dvc_repo / "dvc_plots" / "index.html"


def test_dvc_plots_show_a_line_per_task_with_titles(dvc_plots):
    page = dvc_plots.read_text(encoding="utf-8")
    specs = [json.loads(spec) for spec in re.findall(r"var spec = (\{.*\});\n", page)]
    titles = {spec["title"].split(" (")[0]: spec for spec in specs}
    assert set(titles) == {"Training loss per task", "Dev metrics per task", "Task mix per sampling window"}
    for spec in titles.values():
        encoding = spec.get("encoding") or spec["spec"]["encoding"]
        assert encoding["color"]["field"] == "task" and encoding["x"]["title"].startswith("step")
        assert {row["task"] for row in spec["data"]["values"]} >= set(TASKS)
    assert "cdn.jsdelivr" not in page and page.count("window.vegaEmbed=") == 1  # the report's bundle instead


def test_dvc_plots_page_draws_offline(dvc_plots, browser):
    visit = browser.open(dvc_plots.as_uri(), ready="document.querySelectorAll('svg').length >= 3", timeout=30)
    assert visit.ready and visit.errors == [] and visit.remote_requests == []


def test_dvc_metrics_show_lists_the_headline_only(dvc_repo):
    shown = json.loads(dvc(dvc_repo, "metrics", "show", "--json"))
    assert "error" not in json.dumps(shown)  # "DVC failed to load some metrics" shows here as an error entry
    metrics = shown[""]["data"]
    assert list(metrics) == ["reports/headline.json"]
    headline = metrics["reports/headline.json"]["data"]
    assert set(headline) == set(TASKS) and set(headline["ner"]["entity_f1"]) == {"dev", "test", EXTRA}


# --- the registry's side: each version's model card, and what `mtl registry show` prints -----------------


def test_each_version_carries_a_model_card_that_registry_show_prints(built, tmp_path):
    from typer.testing import CliRunner

    from mtl.cli import app

    registry = open_registry(built.params)
    stored = registry.store.get("versions/v0001/README.md").decode("utf-8")
    metrics = registry.show("v0001")["metrics"]
    for card in (stored, registry.card("v0001")):
        for heading in ("# Model v0001", "## Data and tasks", "## Scores", "## Training", "## Gate", "## Lineage"):
            assert heading in card
        for task, row in metrics["test"]["per_task"].items():
            lo, hi = row["ci"]
            assert f"| {task} | {row['metric']} |" in card and f"{row['value']:.4f} [{lo:.4f}, {hi:.4f}]" in card
        assert f"ner @ {EXTRA} (extra)" in card and metrics["training"]["stopped_reason"] in card
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({**built.params.model_dump(mode="json", exclude={"root"}),
                                            "registry": {"uri": str(built.params.root / "registry")}}))
    shown = CliRunner().invoke(app, ["registry", "show", "production", "--params", str(params_file)])
    assert shown.exit_code == 0 and shown.output.strip() == registry.card("production").strip()
    assert len(shown.output.splitlines()) < 80  # a summary, not the records
    full = CliRunner().invoke(app, ["registry", "show", "v0001", "--json", "--params", str(params_file)])
    assert json.loads(full.output)["lineage"]["data_stats"]["tasks"]["sentiment"]["examples"] == 61
