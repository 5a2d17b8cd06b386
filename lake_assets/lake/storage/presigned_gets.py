"""Plain S3 GETs at a fraction of botocore's CPU: a URL presigned once per key and reused,
sent through the client's own connection pool (so its TLS, proxy and timeout settings hold).

botocore's per-request CPU (event hooks, endpoint rules, signing, response parsing) holds the
GIL; a sensor polling hundreds of `latest` pointers, or a `gros://` read checking its pointer
while the data arrives, pays it per request (bench/s3_path_bench.py weighs it over a 10 ms
link: it keeps the `gros://` line inside its target). Only the plain answers are taken here
(200 with its whole length, 304, and 404 for a missing key, which a poll of pointers meets
often); anything
else, including a failure to connect, returns None and the caller asks botocore, whose
retries and error names apply: this is a first attempt, never a second way of handling
failures.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.awsrequest import AWSRequest, AWSResponse

VALID_FOR = 900
"""Seconds a presigned URL is valid: no longer than the 15 minutes before expiry at which
botocore refreshes temporary credentials, so a URL never outlives the credentials that
signed it."""
REUSE_FOR = 300
"""Seconds a presigned URL is reused, well inside its validity, for clock skew."""
MAX_URLS = 4096
MISSING_KEY = b"<Code>NoSuchKey</Code>"


class PresignedGets:
    """GETs of one bucket's objects by presigned URL; keys are full S3 keys.

    The pool is botocore's own `client._endpoint.http_session`, not public API: a botocore
    without it leaves every GET to botocore, as before (the store's tests would show it)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        self._session = getattr(getattr(client, "_endpoint", None), "http_session", None)
        self._urls: dict[str, tuple[str, float]] = {}
        """Key -> presigned URL and when it was made (monotonic seconds)."""

    def _url(self, key: str) -> str:
        now = time.monotonic()
        known = self._urls.get(key)
        if known is not None and now - known[1] < REUSE_FOR:
            return known[0]
        url = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=VALID_FOR
        )
        if len(self._urls) >= MAX_URLS:
            self._urls.clear()
        self._urls[key] = (url, now)
        return url

    def get(
        self, key: str, *, if_none_match: str | None = None, stream: bool = False
    ) -> AWSResponse | None:
        """The response to a GET of `key` when it is a plain one (200 with a length, 304 to
        `if_none_match`, 404 for no such key), else None. With `stream` the body of a 200 is
        left unread."""
        if self._session is None:
            return None
        headers = {"If-None-Match": if_none_match} if if_none_match else {}
        try:
            request = AWSRequest("GET", self._url(key), headers=headers, stream_output=stream)
            response = self._session.send(request.prepare())
        except Exception:  # botocore's own attempt follows, and names the failure
            self._urls.pop(key, None)
            return None
        if _plain(response, stream):
            return response
        if stream:
            response.raw.close()
        self._urls.pop(key, None)
        return None


def _plain(response: AWSResponse, stream: bool) -> bool:
    """Whether the answer needs nothing of botocore: not modified, no such key (not a
    missing bucket, which is the caller's error to name), or a 200 that says its length
    and, when already read, delivered all of it."""
    status = response.status_code
    if status == 304:
        return True
    if status == 404:
        return MISSING_KEY in response.content
    length = response.headers.get("Content-Length")
    if status != 200 or length is None or not length.isdigit():
        return False
    return stream or len(response.content) == int(length)
