"""The S3 store's plain GETs go by presigned URL through the client's own pool, and anything
but a plain answer is asked again through botocore, so results and errors are botocore's."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lake_assets.lake import NotFound, StoreUnavailable
from lake_assets.lake.storage import presigned_gets as presigned_module
from lake_assets.lake.storage.s3 import S3Store
from lake_assets_tests.s3_requests import watching_requests

AWKWARD_KEYS = [
    "dependency/r/b/downstreams/team%2Fpipe",
    "asset/r/feature/x y+z=1&w/data/2024-01-01.csv.gz",
    "asset/r/brånch/metadata/latest",
]


def is_presigned(request: Any) -> bool:
    query = parse_qs(urlsplit(request.url).query)
    return query.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"] and "X-Amz-Signature" in query


@pytest.fixture
def store(s3_bucket: str) -> S3Store:
    return S3Store(s3_bucket, "lake")


@pytest.fixture
def sent(store: S3Store) -> Any:
    requests: list[Any] = []
    with watching_requests(store.client, requests.append):
        yield requests


def test_plain_gets_are_one_presigned_sigv4_request_each(store: S3Store, sent: list[Any]) -> None:
    for key in AWKWARD_KEYS:
        store.put(key, key.encode())
    del sent[:]
    for key in AWKWARD_KEYS:
        assert store.get(key) == key.encode()
        stream, info = store.open_with_info(key) or (None, None)
        assert stream is not None and info is not None
        with stream:
            assert stream.read() == key.encode()
        assert (info.key, info.size) == (key, len(key.encode()))
        assert store.get_if_changed(key, info.etag) is False
        assert store.get_if_changed(key, '"another-version"') == (key.encode(), info)
        assert store.get_if_changed(key, None) == (key.encode(), info)
    assert len(sent) == 5 * len(AWKWARD_KEYS)
    assert all(r.method == "GET" and is_presigned(r) for r in sent)
    conditional = [r for r in sent if "If-None-Match" in r.headers]
    assert len(conditional) == 2 * len(AWKWARD_KEYS)


def test_a_presigned_url_is_made_once_per_key_until_its_reuse_ends(
    store: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("k", b"v")
    made: list[str] = []
    presign = store.client.generate_presigned_url

    def counting(*args: Any, **kwargs: Any) -> str:
        made.append(kwargs["Params"]["Key"])
        return presign(*args, **kwargs)

    monkeypatch.setattr(store.client, "generate_presigned_url", counting)
    for _ in range(3):
        assert store.get("k") == b"v"
    assert made == ["lake/k"]
    monkeypatch.setattr(presigned_module, "REUSE_FOR", 0)
    assert store.get("k") == b"v"
    assert made == ["lake/k", "lake/k"]


def test_a_missing_key_is_one_request(store: S3Store, sent: list[Any]) -> None:
    """A sensor polls pointers that foreign producers never wrote: no second request."""
    assert store.get_if_changed("nothing", None) is None
    assert store.get_if_changed("nothing", '"some-version"') is None
    assert store.open_with_info("nothing") is None
    with pytest.raises(NotFound, match="nothing does not exist in s3://"):
        store.get("nothing")
    assert [is_presigned(r) for r in sent] == [True] * 4


def test_a_missing_bucket_is_asked_again_and_named(s3_endpoint: str) -> None:
    store = S3Store("no-such-bucket-for-presigned", "lake")
    sent: list[Any] = []
    with watching_requests(store.client, sent.append):
        for read in (lambda: store.get_if_changed("latest", None), lambda: store.get("latest")):
            with pytest.raises(
                StoreUnavailable, match="'no-such-bucket-for-presigned' does not exist"
            ):
                read()
    assert [is_presigned(r) for r in sent] == [True, False] * 2


def test_a_failed_presigned_attempt_falls_back_to_botocore(store: S3Store) -> None:
    """A connection refused on the first attempt, as botocore would retry it."""
    store.put("k", b"value")

    def refuse_presigned(request: Any) -> None:
        if is_presigned(request):
            raise ConnectionResetError("reset by the test")

    sent: list[Any] = []
    with watching_requests(store.client, lambda r: (sent.append(r), refuse_presigned(r))):
        assert store.get("k") == b"value"
        assert store.get_if_changed("k", None) == (b"value", store.head("k"))
    assert [is_presigned(r) for r in sent] == [True, False, True, False, False]


def test_a_short_answer_is_not_taken(store: S3Store) -> None:
    """A 200 whose body falls short of its Content-Length is asked again through botocore."""
    store.put("k", b"the whole value")

    def truncate(request: Any, response: Any) -> None:
        if is_presigned(request):
            response._content = response.content[:3]

    with watching_requests(store.client, lambda _: None, truncate):
        assert store.get("k") == b"the whole value"
