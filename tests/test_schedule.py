"""The scheduled retrain against the session's real Prefect server (a subprocess on 127.0.0.1): `mtl schedule` serves
the deployment on a short interval; scheduled runs fire and complete; with nothing changed they end as
skipped without running a stage; a line appended to one corpus re-runs only that corpus's ingest and what depends on it.

    pytest -s tests/test_schedule.py    # prints the trigger-to-completion times and the stage list
"""

from __future__ import annotations

import yaml

from harness.prefect_server import (
    OUTCOME_EVENTS, deployment_runs, finished_runs, outcome_artifact, outcome_events, served, trigger_to_completion,
    wait_for,
)
from harness.webhook import WebhookReceiver
from harness.workspace import copy_workspace
from mtl.changes import what_changed
from mtl.config import load_params
from mtl.schedule import ENTRYPOINT, deployment

INTERVAL = 5  # seconds between scheduled runs


def test_prefect_yaml_is_the_deployment_mtl_schedule_serves(repo_root):
    params = load_params(repo_root / "params.yaml")
    [declared] = yaml.safe_load((repo_root / "prefect.yaml").read_text())["deployments"]
    assert declared["name"] == params.schedule.deployment
    assert declared["work_pool"]["name"] == params.schedule.work_pool
    [schedule] = declared["schedules"]
    assert schedule == {"cron": params.schedule.cron, "timezone": params.schedule.timezone, "active": True}
    assert declared["entrypoint"] == ENTRYPOINT
    assert declared["parameters"]["skip_unchanged"] is True

    served_deployment = deployment(params, repo_root / "params.yaml")
    [schedule] = served_deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (params.schedule.cron, params.schedule.timezone)
    assert served_deployment.name == params.schedule.deployment
    assert served_deployment.parameters == {"params_file": str(repo_root / "params.yaml"), "skip_unchanged": True}
    assert served_deployment.entrypoint == ENTRYPOINT


def test_scheduled_runs_skip_when_nothing_changed_and_rerun_only_what_new_data_touches(
    trained_workspace, prefect_api, tmp_path
):
    # A copy of the session's trained workspace: built, promoted (v0001) and decided, so the scheduled
    # runs below start on the nothing-changed path. The session's Prefect server creates them.
    workspace = copy_workspace(trained_workspace.workspace, tmp_path)
    api_url, home = prefect_api.url, prefect_api.home
    with WebhookReceiver() as hook:
        workspace.set_params(notify={"webhook": hook.url, "events": list(OUTCOME_EVENTS)})  # every outcome
        with served(workspace.params_file, api_url, home, INTERVAL, env={"MTL_CORPORA_MIRROR": str(workspace.mirror)}):
            [first] = wait_for(lambda: finished_runs(api_url, 1), timeout=60 + INTERVAL, what="a scheduled run")
            assert first["state_type"] == "COMPLETED", (home / "serve.log").read_text()[-3000:]
            assert outcome_artifact(api_url, first["id"]).startswith("# Retrain: skipped")
            # the outcome event reaches the server's event store a moment after the run ends
            skipped = wait_for(lambda: outcome_events(api_url).get(first["id"]), timeout=30, what="the skip's event")
            assert skipped["event"] == "mtl.retrain.skipped" and skipped["stages_run"] == [], skipped
            # how long a skip takes is a figure (-s prints it), not an assertion: it depends on the machine's load
            print(f"\nnothing changed: trigger -> completion {trigger_to_completion(first):.2f} s")

            # New data lands: one line appended to one corpus's train file.
            train_file = workspace.root / "data/raw/trec/train_5500.label"
            train_file.write_bytes(train_file.read_bytes() + b"HUM:ind Who appended this question to the corpus ?\n")
            trained = wait_for(lambda: _first_trained_run(api_url), timeout=150, every=2, what="a run on the new data")
            print(f"after appending to trec: {trained['event']} in {trained['seconds']:.1f} s", trained["stages_run"])
            assert trained["stages_run"] == ["ingest@trec", "unify", "train", "evaluate", "gate", "report"]
            assert trained["event"] == "mtl.model.promoted"
            assert "ingest@trec" in trained["changes"] and "ingest@sst2" not in trained["changes"]

    # The promotion was recorded as decided: the next scheduled run (its first question, asked here once the
    # runner has stopped, so that no two DVC commands share the workspace) has nothing to do.
    after = what_changed(load_params(workspace.params_file))
    assert after.nothing and after.production == "v0002", after.describe()

    # The webhook heard every outcome (params ask for all five here): the skip, and the promotion.
    assert set(hook.events()) == {"mtl.model.promoted", "mtl.retrain.skipped"}
    promotions = [item for item in hook.received if item["event"] == "mtl.model.promoted"]
    assert [(item["production"], item["replaced"]) for item in promotions] == [("v0002", "v0001")]
    assert promotions[-1]["text"].startswith("[mtl.model.promoted] promoted v0002 to production")


def _first_trained_run(api_url: str) -> dict | None:
    events = outcome_events(api_url)
    for scheduled in deployment_runs(api_url):
        if scheduled["state_type"] in ("FAILED", "CRASHED"):
            raise AssertionError(f"a scheduled run failed: {scheduled['state']}")
        event = events.get(scheduled["id"])
        if scheduled["state_type"] == "COMPLETED" and event and event["event"] != "mtl.retrain.skipped":
            return {**event, "run": scheduled}
    return None
