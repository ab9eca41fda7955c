"""The scheduled retrain, measured: trigger-to-completion of scheduled runs with nothing changed, a run
triggered by hand, and the stages a data change re-runs. Real components: a Prefect server subprocess on
127.0.0.1, `mtl schedule` serving the deployment every --interval seconds, a small workspace cut from
the corpora (harness/, shared with the tests).

    .venv/bin/python -m bench.schedule [--runs 5] [--interval 8] [--sentences 60]

Prints figures; asserts nothing. "trigger" is the run's scheduled time (when the schedule made it due).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from harness.prefect_server import (
    FINISHED, OUTCOME_EVENTS, REPO, api, deployment_runs, finished_runs, outcome_events, prefect_environment,
    prefect_server, served, start_to_end, trigger_to_completion, wait_for,
)
from harness.webhook import WebhookReceiver
from harness.workspace import TINY, make_workspace, run

NEW_LINE = b"HUM:ind Who appended this question to the corpus ?\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="scheduled runs with nothing changed to time")
    parser.add_argument("--interval", type=float, default=8, help="seconds between scheduled runs")
    parser.add_argument("--sentences", type=int, default=60, help="per corpus file")
    args = parser.parse_args()
    corpora = Path(os.environ.get("MTL_CORPORA_MIRROR", REPO.parent / "shared" / "corpora"))

    with tempfile.TemporaryDirectory() as folder, WebhookReceiver() as hook:
        tmp = Path(folder)
        home = tmp / "prefect"
        home.mkdir()
        started = time.monotonic()
        with prefect_server(home) as api_url:
            print(f"prefect server healthy after {time.monotonic() - started:.1f} s")
            notify = {"webhook": hook.url, "events": list(OUTCOME_EVENTS)}
            ws = make_workspace(tmp, corpora, n=args.sentences, open_gate=True, **TINY, notify=notify)
            env = {"MTL_CORPORA_MIRROR": str(ws.mirror)}
            started = time.monotonic()
            build = [str(Path(sys.executable).parent / "mtl"), "run", "--params", str(ws.params_file)]
            run(REPO, *build, env={**prefect_environment(api_url, home), **env})
            print(f"first build (on demand, every stage): {time.monotonic() - started:.1f} s")

            with served(ws.params_file, api_url, home, args.interval, env=env):
                timeout = 60 + 2 * args.runs * args.interval
                runs = wait_for(lambda: finished_runs(api_url, args.runs), timeout=timeout, what="scheduled runs")
                _report_unchanged(api_url, runs)
                poll = prefect_environment(api_url, home)["PREFECT_RUNNER_POLL_FREQUENCY"]
                print(f"a run triggered by hand (the runner polls every {poll} s, then starts a process):"
                      f" {_by_hand(api_url):.2f} s to completion")

                train_file = ws.root / "data/raw/trec/train_5500.label"
                train_file.write_bytes(train_file.read_bytes() + NEW_LINE)
                trained = wait_for(lambda: _trained(api_url), timeout=300, every=2, what="the run on new data")
                print(f"\nappended a line to trec/train_5500.label -> {trained['event']}")
                print(f"  what changed: {trained['changes']}")
                print(f"  stages run:   {', '.join(trained['stages_run'])}")
                print(f"  flow time:    {trained['seconds']:.1f} s")
        print(f"\nwebhook received: {', '.join(hook.events())}")


def _report_unchanged(api_url: str, runs: list[dict]) -> None:
    events = wait_for(lambda: _events_for(api_url, runs), timeout=30, what="their events")
    print(f"\n{'run':<22} {'outcome':<22} {'trigger->completion':>20} {'start->end':>11}")
    for scheduled in runs:
        total = start_to_end(scheduled)
        outcome = events[scheduled["id"]]["event"]
        print(f"{scheduled['name']:<22} {outcome:<22} {trigger_to_completion(scheduled):>18.2f} s {total:>9.2f} s")
    times = sorted(trigger_to_completion(scheduled) for scheduled in runs)
    print(f"nothing changed, trigger -> completion: median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s")


def _by_hand(api_url: str) -> float:
    """`prefect deployment run retrain/nightly`, timed to the run's completion."""
    deployment = api(api_url, "/deployments/name/retrain/nightly")
    started = time.monotonic()
    flow_run = api(api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
    done = lambda: api(api_url, f"/flow_runs/{flow_run['id']}")["state_type"] in FINISHED  # noqa: E731
    wait_for(done, timeout=120, every=0.1, what="the run")
    return time.monotonic() - started


def _events_for(api_url: str, runs: list[dict]) -> dict | None:
    events = outcome_events(api_url)
    return events if all(r["id"] in events for r in runs) else None


def _trained(api_url: str) -> dict | None:
    """The outcome event of the first scheduled run that did not skip."""
    events = outcome_events(api_url)
    outcomes = [events.get(r["id"]) for r in deployment_runs(api_url) if r["state_type"] in FINISHED]
    return next((e for e in outcomes if e and e["event"] != "mtl.retrain.skipped"), None)


if __name__ == "__main__":
    main()
