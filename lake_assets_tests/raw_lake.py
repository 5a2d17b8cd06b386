"""Objects under a lake root, written and read the way a foreign producer has them: plain
files or plain boto3, never the project's code."""

import functools
import gzip
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3


@functools.cache
def _client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint)


class RawLake:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.s3 = parsed.scheme == "s3"
        if self.s3:
            self.bucket = parsed.netloc
            self.prefix = parsed.path.strip("/") + "/" if parsed.path.strip("/") else ""
            self.client = _client(os.environ["AWS_ENDPOINT_URL_S3"])
        else:
            self.root = Path(url)

    def put(self, key: str, data: bytes) -> None:
        if self.s3:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        else:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value).encode())

    def put_csv(self, key: str, text: str) -> None:
        self.put(key, gzip.compress(text.encode()))

    def get(self, key: str) -> bytes:
        if self.s3:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        return (self.root / key).read_bytes()

    def delete(self, key: str) -> None:
        if self.s3:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        else:
            (self.root / key).unlink()

    def exists(self, key: str) -> bool:
        if self.s3:
            found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + key)
            return any(o["Key"] == self.prefix + key for o in found.get("Contents", []))
        return (self.root / key).is_file()

    def all_keys(self) -> list[str]:
        """Every object key under the root, hidden local files included."""
        if self.s3:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            return sorted(
                o["Key"][len(self.prefix) :] for p in pages for o in p.get("Contents", [])
            )
        if not self.root.exists():
            return []
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )
