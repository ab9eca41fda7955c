"""The webhook: a JSON POST to a real HTTP receiver on 127.0.0.1, only for the events params ask for;
best-effort (a receiver that is down or refuses never raises), briefly retried only when it may pass."""

from __future__ import annotations

import pydantic
import pytest

from mtl import notify
from mtl.config import NotifyConfig
from mtl.notify import Outcome, send
from tests.scheduling import WebhookReceiver, free_port

PROMOTED = Outcome("promoted", "promoted v0002 to production (replacing v0001)", ["ingest@trec", "unify", "train"],
                   changes="ingest@trec: data/raw/trec modified", production="v0002", replaced="v0001", seconds=41.5)
SKIPPED = Outcome("skipped", "nothing to do", [], production="v0002")


def test_the_webhook_gets_the_events_it_asked_for():
    with WebhookReceiver() as hook:
        config = NotifyConfig(webhook=hook.url, events=["mtl.model.promoted", "mtl.retrain.failed"])
        assert send(config, PROMOTED) is True
        assert send(config, SKIPPED) is False  # not asked for
    [body] = hook.received
    assert body["text"] == "[mtl.model.promoted] promoted v0002 to production (replacing v0001)"
    assert body["event"] == "mtl.model.promoted" and body["outcome"] == "promoted"
    assert body["stages_run"] == ["ingest@trec", "unify", "train"] and body["replaced"] == "v0001"


def test_no_webhook_configured_sends_nothing(monkeypatch):
    monkeypatch.delenv(notify.WEBHOOK_VARIABLE, raising=False)
    assert send(NotifyConfig(), PROMOTED) is False


def test_the_environment_variable_wins_over_params(monkeypatch):
    with WebhookReceiver() as hook:
        monkeypatch.setenv(notify.WEBHOOK_VARIABLE, hook.url)
        assert send(NotifyConfig(webhook=f"http://127.0.0.1:{free_port()}/nobody"), PROMOTED) is True
    assert hook.events() == ["mtl.model.promoted"]


@pytest.mark.parametrize(("status", "attempts"), [(503, 3), (400, 1)])
def test_a_failing_receiver_is_retried_only_when_it_may_pass_and_never_raises(status, attempts, monkeypatch):
    monkeypatch.setattr(notify, "_RETRY_DELAYS", (0.01, 0.01))
    with WebhookReceiver(status=status) as hook:
        assert send(NotifyConfig(webhook=hook.url), PROMOTED) is False
    assert len(hook.received) == attempts


def test_a_receiver_that_is_down_never_raises(monkeypatch):
    monkeypatch.setattr(notify, "_RETRY_DELAYS", (0.01, 0.01))
    assert send(NotifyConfig(webhook=f"http://127.0.0.1:{free_port()}/down"), PROMOTED) is False


def test_unknown_event_names_are_config_errors():
    with pytest.raises(pydantic.ValidationError, match="mtl.model.promotd"):
        NotifyConfig(webhook="http://127.0.0.1:1/", events=["mtl.model.promotd"])
