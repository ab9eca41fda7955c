"""Telling people what a retrain run did: one Prefect event and one Markdown artifact per run, and a
webhook (params.yaml `notify:`) for the events they asked for.

    skipped   -> mtl.retrain.skipped   nothing changed since the last decided candidate
    refused   -> mtl.model.refused     trained, evaluated, and the gate said no
    unchanged -> mtl.model.unchanged   the gate passed a candidate production already holds
    promoted  -> mtl.model.promoted    a new registry version is production
    failed    -> mtl.retrain.failed    a step failed; production is as it was

The webhook gets a JSON POST: {"text": one line (what Slack-style receivers show), "event", and the
outcome's fields}. Delivery is best-effort: a receiver that is down is retried briefly and logged, and
never turns a promotion into a failed run (`send` never raises). A webhook URL is a secret (its path or
query holds the token): every URL in what is published or logged here is cut to its scheme and host.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from mtl.changes import production_version
from mtl.config import NotifyConfig, Params
from mtl.urls import check_http_url, redact

WEBHOOK_VARIABLE = "MTL_NOTIFY_WEBHOOK"
EVENTS = {
    "skipped": "mtl.retrain.skipped",
    "refused": "mtl.model.refused",
    "unchanged": "mtl.model.unchanged",
    "promoted": "mtl.model.promoted",
    "failed": "mtl.retrain.failed",
}
ARTIFACT_KEY = "retrain-outcome"
_RETRY_DELAYS = (1.0, 3.0)  # seconds before the second and third attempt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    outcome: str  # a key of EVENTS
    summary: str  # one sentence a person reads
    stages_run: list[str]
    changes: str = ""  # what made the run train, or why it did not
    production: str | None = None  # the production version after the run
    replaced: str | None = None  # the version a promotion replaced
    seconds: float | None = None  # the run's wall time so far
    error: str | None = None  # a failed run's error (its last 4000 characters)
    stages_restored: list[str] = field(default_factory=list)  # restored from DVC's run cache instead of run

    @property
    def event(self) -> str:
        return EVENTS[self.outcome]

    def payload(self) -> dict:
        return {"event": self.event, **asdict(self)}

    def redacted(self) -> Outcome:
        """The outcome with every URL in its text cut to scheme and host (a webhook's token never leaves)."""
        text = {name: redact(value) for name in ("summary", "changes", "error") if (value := getattr(self, name))}
        return replace(self, **text)

    def markdown(self) -> str:
        rows = [
            ("stages run", ", ".join(self.stages_run) or "none"),
            ("restored from DVC's run cache", ", ".join(self.stages_restored) or "none"),
            ("what changed", self.changes or "-"),
            ("production", self.production or "none"),
            ("wall time", f"{self.seconds:.1f} s" if self.seconds is not None else "-"),
        ]
        table = "\n".join(f"| {name} | {value} |" for name, value in rows)
        error = f"\n```\n{self.error}\n```\n" if self.error else ""
        return f"# Retrain: {self.outcome}\n\n{self.summary}\n\n| | |\n|---|---|\n{table}\n{error}"


def announce(outcome: Outcome, params: Params) -> bool:
    """Publish a run's outcome, redacted: the Prefect event, the `retrain-outcome` Markdown artifact, and the
    webhook when params ask for this event. Returns whether the webhook took it."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.events import emit_event

    outcome = outcome.redacted()
    emit_event(outcome.event, resource=workspace_resource(params.root), payload=outcome.payload())
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=outcome.markdown(), description=outcome.summary[:500])
    return send(params.notify, outcome)


def report_failure(params: Params, message: str) -> bool:
    """A run failed: the mtl.retrain.failed event, artifact and webhook, with the production version as it
    stands (the flow moves the alias last: a failed stage never did). Never raises: the run's own error is
    what its caller reports; a report that could not be published is logged."""
    try:
        production = production_version(params)
    except Exception as error:  # the registry may be what failed
        production = f"unknown ({error})"
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    summary = f"retrain failed (production: {production or 'none'}): {first_line}"
    outcome = Outcome("failed", summary, [], production=production, error=message[-4000:])
    try:
        return announce(outcome, params)
    except Exception as error:
        logger.warning("notify: could not publish the failure report: %s", redact(str(error)))
        return False


def workspace_resource(root: Path) -> dict[str, str]:
    return {"prefect.resource.id": f"mtl.workspace.{root}", "prefect.resource.name": root.name}


def send(config: NotifyConfig, outcome: Outcome) -> bool:
    """POST the outcome to the webhook if one is configured and its event is wanted. True when delivered;
    never raises (a notification must not fail the run it reports on)."""
    url = os.environ.get(WEBHOOK_VARIABLE) or (config.webhook.get_secret_value() if config.webhook else None)
    if not url or outcome.event not in config.events:
        return False
    try:
        check_http_url(url)  # params' URL was checked at load; the environment's is checked here
        return _post(url, outcome, config.timeout_seconds)
    except Exception as error:  # a malformed URL, an encoding problem: logged, and the run goes on
        logger.warning("notify: %s was not sent: %s", outcome.event, redact(str(error)))
        return False


def _post(url: str, outcome: Outcome, timeout: float) -> bool:
    body = json.dumps({"text": f"[{outcome.event}] {outcome.summary}", **outcome.payload()}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    for delay in (*_RETRY_DELAYS, None):
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                return True
        except urllib.error.HTTPError as error:
            problem, transient = f"HTTP {error.code}", error.code >= 500 or error.code == 429
        except OSError as error:  # refused, unreachable, timed out
            problem, transient = str(error), True
        if delay is None or not transient:
            logger.warning("notify: the webhook at %s did not take %s (%s); the run's outcome stands",
                           redact(url), outcome.event, redact(problem))
            return False
        time.sleep(delay)
    return False
