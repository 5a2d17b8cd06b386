"""What an S3 client sends, seen at its connection pool: below botocore's event hooks, so the
store's presigned GETs are seen as well as botocore's own requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def watching_requests(
    client: Any,
    before: Callable[[Any], None],
    after: Callable[[Any, Any], None] | None = None,
) -> Iterator[None]:
    """Every HTTP request sent through an S3 client's connection pool, botocore's own and the
    store's presigned GETs alike, goes past `before` (an AWSPreparedRequest) first, and its
    response past `after` (request, AWSResponse), which may alter it."""
    session = client._endpoint.http_session
    send = session.send

    def watched(request: Any) -> Any:
        before(request)
        response = send(request)
        if after is not None:
            after(request, response)
        return response

    session.send = watched
    try:
        yield
    finally:
        del session.send
