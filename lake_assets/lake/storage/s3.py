"""A lake in an S3 bucket (or any S3-compatible server), through boto3.

Credentials and endpoints come from the standard AWS chain, including `AWS_ENDPOINT_URL_S3`
and `AWS_ENDPOINT_URL`; errors name the bucket and endpoint, never a credential.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config
from botocore.response import StreamingBody

from lake_assets.lake.contract.errors import LakeError, NotFound, StoreUnavailable
from lake_assets.lake.storage.presigned_gets import PresignedGets
from lake_assets.lake.storage.store import ObjectInfo, Store

CONFIG = Config(
    connect_timeout=5,
    read_timeout=60,
    retries={"max_attempts": 4, "mode": "standard"},
    max_pool_connections=64,
    response_checksum_validation="when_required",
    signature_version="s3v4",
)
"""The lake's one S3 configuration (every route's client is made from it, merged with the
caller's). botocore would otherwise CRC32 every GET body that has a checksum header, about
as much CPU as receiving it. Data objects check themselves:
ours a CRC-32 per segment, any gzip its trailer's CRC-32, and reads whose bytes are not the
recorded version are hashed against the production record; TLS guards the rest in transit.
SigV4 is named because presigned URLs would otherwise be SigV2, which S3 refuses for buckets
made since 2020."""
DELETE_BATCH = 1000
"""Keys per `DeleteObjects` request: S3's limit."""
_MISSING = {"NoSuchKey", "404", "NotFound"}
_LOST_RACE = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


_session_lock = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    """One session per process: making one is slow, and every new lake needs a client.
    Sessions are not thread-safe, so clients are made under a lock."""
    return boto3.session.Session()


class S3Store(Store):
    remote = True

    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any = None, **client_kwargs: Any
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = client or self._client(client_kwargs)
        self._gets = PresignedGets(self.client, bucket)

    def _client(self, options: dict[str, Any]) -> Any:
        """A boto3 client; the caller's `config` is merged over ours, as are dagster-aws's
        plain settings (`max_attempts`, `use_unsigned_session`, `profile_name`: plain values
        keep the options hashable, so `Lake.open` shares the lake). A bad option or partial
        credentials is a LakeError naming the option, never its value."""
        options = {k: v for k, v in options.items() if v is not None}
        config = CONFIG.merge(options.pop("config")) if "config" in options else CONFIG
        if (attempts := options.pop("max_attempts", None)) is not None:
            config = config.merge(Config(retries={"max_attempts": attempts, "mode": "standard"}))
        if options.pop("use_unsigned_session", False):
            config = config.merge(Config(signature_version=UNSIGNED))
        profile = options.pop("profile_name", None)
        try:
            with _session_lock:
                session = (
                    _session() if profile is None else boto3.session.Session(profile_name=profile)
                )
                return session.client("s3", config=config, **options)
        except TypeError:
            raise LakeError(
                f"unknown storage option among {sorted(options)} for {self.url}: S3 options "
                "are boto3 client arguments such as endpoint_url or region_name"
            ) from None
        except (ValueError, botocore.exceptions.BotoCoreError) as e:  # ProfileNotFound too
            raise StoreUnavailable(
                f"cannot set up an S3 client for {self.url}: {type(e).__name__}"
                + (
                    f" (endpoint_url {options['endpoint_url']!r})"
                    if "endpoint_url" in options
                    else ""
                )
                + (f": {e}" if isinstance(e, botocore.exceptions.PartialCredentialsError) else "")
            ) from None

    def _key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise LakeError(f"key {key!r} escapes the lake root {self.url}")
        return self.prefix + key

    def _fail(self, e: Exception, key: str) -> LakeError:
        endpoint = self.client.meta.endpoint_url
        if isinstance(e, botocore.exceptions.ClientError):
            code = e.response.get("Error", {}).get("Code", "")
            if code in _MISSING:
                return self.absent(key)
            if code == "NoSuchBucket":
                return StoreUnavailable(f"S3 bucket {self.bucket!r} does not exist at {endpoint}")
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return StoreUnavailable(
                    f"access to s3://{self.bucket} denied at {endpoint}: {code}"
                )
            return StoreUnavailable(f"S3 error {code or e} on {key} in {self.url} at {endpoint}")
        if isinstance(e, botocore.exceptions.NoCredentialsError):
            return StoreUnavailable(f"no AWS credentials found for {self.url}")
        return StoreUnavailable(f"cannot reach the S3 endpoint {endpoint} for {self.url}: {e}")

    def _call(self, method: str, key: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._fail(e, key) from None

    def open_with_info(self, key: str) -> tuple[IO[bytes], ObjectInfo] | None:
        fast = self._gets.get(self._key(key), stream=True)
        if fast is not None:
            if fast.status_code == 404:
                return None
            size = int(fast.headers["Content-Length"])
            return StreamingBody(fast.raw, size), ObjectInfo(key, size, fast.headers["ETag"])
        try:
            resp = self._call("get_object", key, Key=self._key(key))
        except NotFound:
            return None
        return resp["Body"], ObjectInfo(key, resp["ContentLength"], resp["ETag"])

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, ObjectInfo] | bool | None:
        fast = self._gets.get(self._key(key), if_none_match=etag)
        if fast is not None:
            if fast.status_code == 304:
                return False
            if fast.status_code == 404:
                return None
            return fast.content, ObjectInfo(key, len(fast.content), fast.headers["ETag"])
        kwargs = {"IfNoneMatch": etag} if etag else {}
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **kwargs)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("304", "NotModified"):
                return False
            if code in _MISSING:
                return None
            raise self._fail(e, key) from None
        except botocore.exceptions.BotoCoreError as e:
            raise self._fail(e, key) from None
        data = resp["Body"].read()
        return data, ObjectInfo(key, len(data), resp["ETag"])

    def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = self._call("head_object", key, Key=self._key(key))
        except NotFound:
            return None
        return ObjectInfo(key, resp["ContentLength"], resp["ETag"])

    def put(self, key: str, data: bytes) -> str:
        return self._call("put_object", key, Key=self._key(key), Body=data)["ETag"]

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str | None:
        cond = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            put = self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **cond)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in _LOST_RACE or (etag is not None and code in _MISSING):
                return None
            raise self._fail(e, key) from None
        except botocore.exceptions.BotoCoreError as e:
            raise self._fail(e, key) from None
        return put["ETag"]

    def copy(self, src: str, dst: str, *, etag: str) -> bool:
        source = {"Bucket": self.bucket, "Key": self._key(src)}
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self._key(dst), CopySource=source, CopySourceIfMatch=etag
            )
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in _LOST_RACE or code in _MISSING:
                return False
            raise self._fail(e, src) from None
        except botocore.exceptions.BotoCoreError as e:
            raise self._fail(e, src) from None
        return True

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(self.prefix) :]
                    modified = obj["LastModified"].timestamp()
                    yield ObjectInfo(key, obj["Size"], obj["ETag"], modified)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._fail(e, prefix) from None

    def list_dirs(self, prefix: str) -> list[str]:
        full = self.prefix + prefix
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full, Delimiter="/"
        )
        try:
            return sorted(
                p["Prefix"][len(full) :].rstrip("/")
                for page in pages
                for p in page.get("CommonPrefixes", [])
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._fail(e, prefix) from None

    def delete(self, key: str) -> None:
        self._call("delete_object", key, Key=self._key(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        """`DeleteObjects`, up to 1000 keys a request; a key S3 reports it could not delete
        is a StoreUnavailable naming it (with the first few others and their codes)."""
        batch: list[str] = []
        for key in keys:
            batch.append(self._key(key))
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, batch: list[str]) -> None:
        objects = {"Objects": [{"Key": k} for k in batch], "Quiet": True}
        resp = self._call("delete_objects", batch[0][len(self.prefix) :], Delete=objects)
        errors = resp.get("Errors") or []
        if errors:
            named = ", ".join(
                f"{e.get('Key', '?')[len(self.prefix) :]} ({e.get('Code', 'error')})"
                for e in errors[:5]
            )
            more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
            raise StoreUnavailable(
                f"could not delete {len(errors)} of {len(batch)} objects in {self.url}: "
                f"{named}{more}"
            )
