"""S3Store: the Store protocol on an S3 bucket, or any S3-compatible server, through boto3."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as S3ConnectionError

from mtl.registry.errors import Conflict, RegistryError
from mtl.registry.store import check_key

ENDPOINT_VARIABLES = ("MTL_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_VARIABLES = ("AWS_DEFAULT_REGION", "AWS_REGION")
_MISSING = ("404", "NoSuchKey", "NotFound")
_REJECTED = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired")
_DENIED = ("403", "AccessDenied", "AllAccessDisabled")
# 412: the condition failed. 409: a concurrent conditional write to the same key won (AWS asks to retry).
_CONDITION_FAILED = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
_LOCK_STRIPES = 64  # lock files per host: keys hash onto them, so their number stays bounded


class S3Error(RegistryError):
    """An S3 request failed. The message is one line and never holds credentials."""


class RegistryUnavailable(S3Error):
    """The bucket, the credentials or the endpoint the configuration names cannot be used."""


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _retried(error: ClientError) -> bool:
    return error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0


@dataclass
class S3Store:
    """Keys live under s3://bucket/prefix/. Where the settings come from, first found wins:

    endpoint_url  params registry.endpoint_url > MTL_S3_ENDPOINT_URL > AWS_ENDPOINT_URL_S3 >
                  AWS_ENDPOINT_URL > AWS's own endpoint for the region
    region        params registry.region > AWS_DEFAULT_REGION > AWS_REGION > the AWS profile > us-east-1
    credentials   only boto3's standard chain (environment, shared profile, container or instance
                  role); never params, never logged, never in a message

    The params file is explicit and versioned, so it wins; the environment fills what it leaves unset
    (MTL_S3_ENDPOINT_URL first, so the registry can use another server than other AWS tools).

    Transient failures (5xx, throttling, dropped connections, timeouts) are retried by botocore's
    standard mode with exponential backoff, up to max_attempts in all. A missing bucket, missing or
    rejected credentials or an unreachable endpoint raise RegistryUnavailable with one clear line.

    Writes carry their sha256 (ChecksumSHA256): S3 refuses a body that does not match it (moto does
    not check), keeps it, and sha256() reads it back with a HEAD instead of downloading the object.
    Create-if-absent is put_object(IfNoneMatch="*"), compare-and-swap put_object(IfMatch=<ETag>); a
    412 that answers botocore's retry of our own landed write counts as success (see _put). S3 checks
    the condition and writes in one atomic step, for writers anywhere. Test servers need not: moto
    checks, then writes, and two concurrent writers can both pass the check. So conditional writes
    also hold a lock file on this host (see _host_lock): there, they are atomic among the writers of
    one machine; writers on several machines get the server's own guarantee.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    max_attempts: int = 4  # in all, the first try included (botocore's total_max_attempts)
    connect_timeout: float = 3.0
    read_timeout: float = 60.0
    # A caller's boto3 Session (a profile, or one shared to save the ~0.1 s each new one costs);
    # None: a new session on first use, with boto3's standard credential chain.
    session: boto3.session.Session | None = field(default=None, repr=False, compare=False)
    _client: Any = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @classmethod
    def from_uri(cls, uri: str, *, endpoint_url: str | None = None, region: str | None = None,
                 environ: Mapping[str, str] | None = None, **options: Any) -> S3Store:
        """s3://bucket/prefix plus the params' settings; the environment fills what they leave unset."""
        environ = os.environ if environ is None else environ
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise RegistryUnavailable(f"registry uri {uri!r}: expected s3://bucket/prefix")
        endpoint_url = endpoint_url or next((environ[v] for v in ENDPOINT_VARIABLES if environ.get(v)), None)
        region = region or next((environ[v] for v in REGION_VARIABLES if environ.get(v)), None)
        return cls(bucket, prefix.strip("/"), endpoint_url, region, **options)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (nothing touches the network before a request)."""
        with self._lock:
            if self._client is None:
                with self._errors("connect"):
                    self._client = self._connect()
            return self._client

    # --- the Store protocol --------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, overwrite: bool = True) -> None:
        if not self._put(key, data, {} if overwrite else {"IfNoneMatch": "*"}):
            raise FileExistsError(key)

    def put_if(self, key: str, data: bytes, token: str | None) -> None:
        if not self._put(key, data, {"IfNoneMatch": "*"} if token is None else {"IfMatch": token}):
            raise Conflict(f"{self.uri}/{key}: changed since it was read")

    def get(self, key: str) -> bytes:
        return self.get_versioned(key)[0]

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        name = self._key(key)  # a bad key fails before any network call
        with self._errors("get", key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=name)
            except ClientError as error:
                if _code(error) in _MISSING:
                    raise KeyError(key) from None
                raise
            return response["Body"].read(), response["ETag"]

    def list(self, prefix: str) -> list[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        with self._errors("list", prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base + prefix)
            return sorted(item["Key"][len(base):] for page in pages for item in page.get("Contents", []))

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except KeyError:
            return False
        return True

    def delete(self, key: str) -> None:
        name = self._key(key)
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=name)  # a missing key is no error on S3

    def sha256(self, key: str) -> str:
        stored = self._head(key).get("ChecksumSHA256", "")
        if stored and "-" not in stored:  # "-N": a multipart upload's checksum of part checksums
            return base64.b64decode(stored).hex()
        return hashlib.sha256(self.get(key)).hexdigest()  # written by another tool: read it back

    def sweep(self, older_than: datetime, *, dry_run: bool = False) -> list[str]:
        """Nothing to sweep: a put_object lands whole or not at all (no multipart uploads here)."""
        return []

    # --- internals -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        session = self.session or boto3.session.Session()  # never boto3's module-level default session
        if session.get_credentials() is None:
            raise NoCredentialsError()
        config = Config(
            region_name=self.region or session.region_name or "us-east-1",
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            # S3-compatible servers (an IP and a port) cannot serve bucket-named host names.
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        client = session.client("s3", endpoint_url=self.endpoint_url, config=config)
        try:
            client.head_bucket(Bucket=self.bucket)  # one request: a wrong bucket fails here, in one line
        except ClientError as error:
            if _code(error) in ("404", "NoSuchBucket"):
                raise RegistryUnavailable(f"{self.uri}: bucket does not exist") from None
            raise
        return client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _head(self, key: str) -> dict[str, Any]:
        name = self._key(key)
        with self._errors("head", key):
            try:
                return self.client.head_object(Bucket=self.bucket, Key=name, ChecksumMode="ENABLED")
            except ClientError as error:
                if _code(error) in _MISSING:
                    raise KeyError(key) from None
                raise

    def _put(self, key: str, data: bytes, condition: dict[str, str]) -> bool:
        """Write; False when the condition failed because of another writer."""
        name = self._key(key)
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        with self._host_lock(name) if condition else nullcontext(), self._errors("put", key):
            try:
                self.client.put_object(Bucket=self.bucket, Key=name, Body=data,
                                       ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum, **condition)
                return True
            except ClientError as error:
                # IfMatch on a key deleted since it was read answers 404: the condition failed too.
                if not (_code(error) in _CONDITION_FAILED or ("IfMatch" in condition and _code(error) in _MISSING)):
                    raise
                # After a retry, the 412 may answer our own first attempt, which landed but whose
                # response was lost: then the key holds exactly our bytes and the write succeeded.
                return _retried(error) and self._holds(key, checksum)

    @contextmanager
    def _host_lock(self, name: str) -> Iterator[None]:
        """Serialise conditional writes to `name` among this machine's threads and processes: an flock
        (each open() its own holder, released by the kernel if the holder dies) on one of a few lock
        files in the temp folder, shared by every store on this host that names the same object."""
        folder = Path(tempfile.gettempdir()) / f"mtl-s3-locks-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        where = f"{self.endpoint_url or 'aws'}|{self.bucket}|{name}".encode()
        stripe = int.from_bytes(hashlib.sha256(where).digest()[:4], "big") % _LOCK_STRIPES
        with open(folder / f"{stripe:02d}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _holds(self, key: str, checksum: str) -> bool:
        try:
            return self.sha256(key) == base64.b64decode(checksum).hex()
        except KeyError:
            return False

    @contextmanager
    def _errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """botocore's exceptions -> one line naming the bucket and what failed (KeyError and the
        registry's own errors pass through)."""
        where = f"{self.uri}: {action}" + (f" {key!r}" if key else "")
        try:
            yield
        except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError):
            raise RegistryUnavailable(
                f"{self.uri}: no AWS credentials found (environment, profile or instance role)") from None
        except (S3ConnectionError, HTTPClientError) as error:  # refused, DNS, timeouts: after every retry
            endpoint = self.endpoint_url or f"the AWS S3 endpoint ({self.region or 'default region'})"
            raise RegistryUnavailable(
                f"{self.uri}: cannot reach {endpoint} after {self.max_attempts} attempts "
                f"({type(error).__name__})") from None
        except ClientError as error:
            code = _code(error)
            if code == "NoSuchBucket":
                raise RegistryUnavailable(f"{self.uri}: bucket does not exist") from None
            if code in _REJECTED:
                raise RegistryUnavailable(f"{self.uri}: the AWS credentials were rejected ({code})") from None
            if code in _DENIED:
                raise RegistryUnavailable(
                    f"{where}: access denied; the AWS credentials lack permission on this bucket") from None
            message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())
            raise S3Error(f"{where} failed: {code} {message}".rstrip()) from None
        except BotoCoreError as error:
            raise S3Error(f"{where} failed: {' '.join(str(error).split())}") from None
