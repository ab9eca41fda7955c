"""The Store contract on both stores (a folder, and S3 through a real moto server on 127.0.0.1), plus
what only S3 has: prefixes, stored checksums, settings from params and the environment, botocore's
retries, and one-line errors."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse

from mtl.registry import LocalStore, open_store
from mtl.registry.errors import Conflict, RegistryError
from mtl.registry.s3 import RegistryUnavailable, S3Error, S3Store
from tests.registry.s3_server import free_port, use_fake_aws

# --- the contract, on both stores -----------------------------------------------------------------


def test_put_get_list_exists_delete(any_store):
    any_store.put("a/b/one.json", b"1")
    any_store.put("a/two.json", b"2")
    any_store.put("ab.json", b"3")
    assert any_store.get("a/b/one.json") == b"1"
    assert any_store.list("a/") == ["a/b/one.json", "a/two.json"]
    assert any_store.list("a") == ["a/b/one.json", "a/two.json", "ab.json"]
    assert any_store.list("missing/") == []
    assert any_store.exists("a/two.json") and not any_store.exists("a/b")
    any_store.delete("a/two.json")
    any_store.delete("a/two.json")  # idempotent
    assert not any_store.exists("a/two.json")
    with pytest.raises(KeyError):
        any_store.get("a/two.json")


def test_overwrite_replaces_and_create_only_refuses(any_store):
    any_store.put("k.json", b"old")
    any_store.put("k.json", b"new")
    assert any_store.get("k.json") == b"new"
    with pytest.raises(FileExistsError):
        any_store.put("k.json", b"other", overwrite=False)
    with pytest.raises(FileExistsError):
        any_store.put("k.json", b"new", overwrite=False)  # even the same bytes: create means create
    assert any_store.get("k.json") == b"new" and any_store.list("") == ["k.json"]


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ".tmp-x", "a\\b", ""])
def test_bad_keys_are_refused(any_store, key: str):
    with pytest.raises(ValueError):
        any_store.put(key, b"x")


def test_put_if_is_compare_and_swap(any_store):
    any_store.put_if("alias.json", b"one", None)  # None: only if absent
    with pytest.raises(Conflict):
        any_store.put_if("alias.json", b"two", None)
    data, token = any_store.get_versioned("alias.json")
    assert data == b"one"
    any_store.put_if("alias.json", b"two", token)
    with pytest.raises(Conflict):
        any_store.put_if("alias.json", b"three", token)  # stale: someone (we) changed it since
    assert any_store.get("alias.json") == b"two"
    any_store.delete("alias.json")
    with pytest.raises(Conflict):
        any_store.put_if("alias.json", b"four", token)  # deleted since it was read
    with pytest.raises(KeyError):
        any_store.get_versioned("alias.json")


def test_sha256(any_store):
    any_store.put("m/model.safetensors", b"\x00weights")
    assert any_store.sha256("m/model.safetensors") == hashlib.sha256(b"\x00weights").hexdigest()
    with pytest.raises(KeyError):
        any_store.sha256("m/missing")


def test_local_put_if_under_threads_loses_no_update(tmp_path: Path):
    store, rounds = LocalStore(tmp_path), 25
    store.put("n", b"0")

    def increment() -> None:
        for _ in range(rounds):
            while True:
                data, token = store.get_versioned("n")
                try:
                    store.put_if("n", str(int(data) + 1).encode(), token)
                    break
                except Conflict:
                    continue

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("n") == str(4 * rounds).encode()
    assert store.list("") == ["n"]  # the lock files stay hidden


# --- S3 only --------------------------------------------------------------------------------------


def test_keys_live_under_the_prefix_with_their_sha256(s3_store: S3Store, bucket: str, s3_env: str, s3_admin):
    s3_store.put("versions/v0001/config.json", b"{}")
    other = S3Store(bucket, "elsewhere", endpoint_url=s3_env)  # through the environment's credentials
    other.put("versions/v0001/config.json", b"[]")
    assert s3_store.list("") == ["versions/v0001/config.json"]
    raw = s3_admin
    keys = [item["Key"] for item in raw.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["elsewhere/versions/v0001/config.json", "team/models/versions/v0001/config.json"]
    head = raw.head_object(Bucket=bucket, Key="team/models/versions/v0001/config.json", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"{}").digest()).decode()


def test_sha256_comes_from_a_head_unless_another_tool_wrote_the_object(s3_store: S3Store, bucket: str):
    s3_store.put("ours", b"ours")
    calls = []
    s3_store.client.meta.events.register("before-send.s3.*", lambda request, **kw: calls.append(request.method))
    assert s3_store.sha256("ours") == hashlib.sha256(b"ours").hexdigest()
    assert calls == ["HEAD"]  # no download
    s3_store.client.put_object(Bucket=bucket, Key="team/models/theirs", Body=b"theirs")  # no SHA256 kept
    assert s3_store.sha256("theirs") == hashlib.sha256(b"theirs").hexdigest()
    assert calls[1:] == ["PUT", "HEAD", "GET"]


def test_settings_from_params_then_environment(tmp_path: Path):
    env = {"AWS_ENDPOINT_URL": "http://aws-wide:1", "AWS_ENDPOINT_URL_S3": "http://s3-wide:2",
           "MTL_S3_ENDPOINT_URL": "http://mtl:3", "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-north-1"}
    store = S3Store.from_uri("s3://bkt/a/b/", environ=env)
    assert (store.bucket, store.prefix, store.endpoint_url, store.region) == ("bkt", "a/b", "http://mtl:3", "eu-north-1")
    assert store.uri == "s3://bkt/a/b"
    assert S3Store.from_uri("s3://bkt", endpoint_url="http://params:4", region="us-west-2", environ=env) == \
        S3Store("bkt", "", "http://params:4", "us-west-2")
    assert S3Store.from_uri("s3://bkt/p", environ={"AWS_ENDPOINT_URL": "http://aws-wide:1"}).endpoint_url == "http://aws-wide:1"
    assert S3Store.from_uri("s3://bkt/p", environ={}) == S3Store("bkt", "p")
    with pytest.raises(RegistryUnavailable, match="expected s3://bucket/prefix"):
        S3Store.from_uri("s3:///prefix", environ={})
    assert open_store("s3://bkt/models", tmp_path, endpoint_url="http://x:1", region="r") == \
        S3Store("bkt", "models", "http://x:1", "r")


def test_client_settings(s3_store: S3Store):
    config = s3_store.client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (3.0, 60.0)


def _failing(status: int, code: str, failures: int, attempts: list[str]):
    """A before-send hook: answers the first `failures` requests itself with an S3 error."""
    class Raw:
        def stream(self, **_):
            yield f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()

    def hook(request, **_):
        attempts.append(request.headers["amz-sdk-request"].decode())  # botocore numbers its attempts
        if len(attempts) <= failures:
            return AWSResponse(request.url, status, {}, Raw())
        return None  # send it for real

    return hook


def test_transient_errors_are_retried_by_botocore(s3_store: S3Store):
    s3_store.put("k", b"v")
    attempts: list[str] = []
    s3_store.client.meta.events.register("before-send.s3.GetObject", _failing(503, "ServiceUnavailable", 2, attempts))
    assert s3_store.get("k") == b"v"
    assert [a.split(";")[0] for a in attempts] == ["attempt=1", "attempt=2", "attempt=3"]


def test_retries_give_up_with_one_line(bucket: str, s3_env: str):
    store = S3Store(bucket, endpoint_url=s3_env, max_attempts=2)
    attempts: list[str] = []
    store.client.meta.events.register("before-send.s3.ListObjectsV2", _failing(500, "InternalError", 99, attempts))
    with pytest.raises(S3Error) as raised:
        store.list("versions/")
    assert len(attempts) == 2
    assert str(raised.value) == f"s3://{bucket}: list 'versions/' failed: InternalError injected"


def test_a_retried_create_that_had_landed_is_not_a_conflict(s3_store: S3Store, bucket: str, s3_admin):
    # The first attempt reaches S3 but its answer is lost (here: a 500 after the write); botocore
    # retries and the retry meets If-None-Match's 412. The key holds our bytes: that is success.
    attempts: list[str] = []
    landed = _failing(500, "InternalError", 1, attempts)
    raw = s3_admin

    def write_then_fail(request, **kwargs):
        if not attempts:
            raw.put_object(Bucket=bucket, Key="team/models/claim.json", Body=b"mine",
                                       ChecksumAlgorithm="SHA256",
                                       ChecksumSHA256=base64.b64encode(hashlib.sha256(b"mine").digest()).decode())
        return landed(request, **kwargs)

    s3_store.client.meta.events.register_first("before-send.s3.PutObject", write_then_fail)
    s3_store.put("claim.json", b"mine", overwrite=False)
    assert len(attempts) == 2 and s3_store.get("claim.json") == b"mine"
    attempts.clear()
    with pytest.raises(FileExistsError):  # but someone else's bytes are a conflict, retried or not
        s3_store.put("claim.json", b"yours", overwrite=False)


def test_missing_bucket_is_one_clear_error(s3_env: str):
    store = S3Store("no-such-bucket-here", "models", endpoint_url=s3_env)
    with pytest.raises(RegistryUnavailable) as raised:
        store.list("versions/")
    assert str(raised.value) == "s3://no-such-bucket-here/models: bucket does not exist"
    assert isinstance(raised.value, RegistryError)


def test_missing_credentials_is_one_clear_error(bucket: str, s3_env: str, monkeypatch, tmp_path: Path):
    use_fake_aws(monkeypatch, tmp_path, credentials=False)
    with pytest.raises(RegistryUnavailable) as raised:
        S3Store(bucket, "models", endpoint_url=s3_env).get("x")
    assert str(raised.value) == f"s3://{bucket}/models: no AWS credentials found (environment, profile or instance role)"


def test_unreachable_endpoint_is_one_clear_error(bucket: str, s3_env: str):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RegistryUnavailable) as raised:
        S3Store(bucket, endpoint_url=endpoint, max_attempts=2, connect_timeout=1).exists("x")
    assert str(raised.value) == f"s3://{bucket}: cannot reach {endpoint} after 2 attempts (EndpointConnectionError)"
    assert "testing" not in str(raised.value)  # never a credential
