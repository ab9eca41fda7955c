"""The webhook: a JSON POST to a real HTTP receiver on 127.0.0.1, only for the events params ask for;
best-effort (a receiver that is down or refuses, or a malformed URL, never raises), briefly retried only
when it may pass. Its URL is a secret: checked at load, never shown with its path or query."""

from __future__ import annotations

import logging

import pydantic
import pytest
import yaml

from harness.webhook import WebhookReceiver, free_port
from mtl import notify
from mtl.config import ConfigError, NotifyConfig, load_params
from mtl.notify import Outcome, send
from mtl.urls import redact

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


@pytest.mark.parametrize("url", ["127.0.0.1/hooks/T0KEN", "ftp://127.0.0.1/hooks/T0KEN", "http:///hooks/T0KEN",
                                 "http://127.0.0.1:99999/hooks/T0KEN"])
def test_a_webhook_without_http_scheme_or_host_is_a_config_error_that_hides_its_path(url, tmp_path, repo_root):
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["notify"]["webhook"] = url
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match=r"notify.webhook: expected an http:// or https:// URL with a host") as error:
        load_params(tmp_path / "params.yaml")
    assert "T0KEN" not in str(error.value) and "hooks" not in str(error.value)


def test_a_malformed_webhook_from_the_environment_is_logged_redacted_and_never_raises(monkeypatch, caplog):
    monkeypatch.setenv(notify.WEBHOOK_VARIABLE, "127.0.0.1/hooks/T0KEN")  # no scheme: urllib would raise
    with caplog.at_level(logging.WARNING, logger="mtl.notify"):
        assert send(NotifyConfig(), PROMOTED) is False
    assert "mtl.model.promoted was not sent" in caplog.text and "'127.0.0.1/…'" in caplog.text
    assert "T0KEN" not in caplog.text


def test_a_receiver_that_is_down_is_logged_without_the_urls_path(monkeypatch, caplog):
    monkeypatch.setattr(notify, "_RETRY_DELAYS", (0.01, 0.01))
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="mtl.notify"):
        assert send(NotifyConfig(webhook=f"http://127.0.0.1:{port}/hooks/T0KEN?key=S3CRET"), PROMOTED) is False
    assert f"the webhook at http://127.0.0.1:{port}/… did not take mtl.model.promoted" in caplog.text
    assert "T0KEN" not in caplog.text and "S3CRET" not in caplog.text


def test_the_webhook_is_a_secret_wherever_params_are_dumped():
    config = NotifyConfig(webhook="https://hooks.example.com/services/T0KEN")
    assert "T0KEN" not in repr(config) and "T0KEN" not in str(config.model_dump(mode="json"))
    assert config.webhook.get_secret_value() == "https://hooks.example.com/services/T0KEN"


@pytest.mark.parametrize(("text", "shown"), [
    ("see https://hooks.example.com/services/T0/B1/XYZ now", "see https://hooks.example.com/… now"),
    ("http://user:pa55@10.0.0.1:8080/x?token=abc#frag", "http://10.0.0.1:8080/…"),
    ("'http://127.0.0.1:9/hook?key=1'", "'http://127.0.0.1:9/…'"),
    ("https://example.com and s3://bucket/key", "https://example.com and s3://bucket/…"),
    ("no url here: 127.0.0.1", "no url here: 127.0.0.1"),
])
def test_redact_cuts_every_url_to_scheme_and_host(text, shown):
    assert redact(text) == shown
