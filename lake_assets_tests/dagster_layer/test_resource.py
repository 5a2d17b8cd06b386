"""The Dagster route opens the lake the way every other route does: our S3 configuration
(SigV4, our pool, no per-body checksums) with dagster-aws's settings merged in, and the very
`Lake` a `gros://` read in the same step uses."""

from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from dagster import AssetExecutionContext, asset, materialize

from lake_assets.dagster_layer.resources import LakeResource
from lake_assets.lake import DatasetId, Lake
from lake_assets.lake.storage.s3 import CONFIG


def _presigned_algorithm(client: object) -> list[str]:
    url = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    return parse_qs(urlparse(url).query).get("X-Amz-Algorithm", [])


def test_the_resource_client_is_the_lakes(s3_bucket: str, s3_endpoint: str) -> None:
    resource = LakeResource(lake_url=f"s3://{s3_bucket}", endpoint_url=s3_endpoint, max_attempts=7)
    lake = resource.get_lake()
    assert resource.get_lake() is lake  # one lake and client per setting, not per call
    client = lake.store.client
    assert _presigned_algorithm(client) == ["AWS4-HMAC-SHA256"]
    assert client.meta.config.signature_version == "s3v4"
    assert client.meta.config.max_pool_connections == CONFIG.max_pool_connections >= 32
    assert client.meta.config.response_checksum_validation == "when_required"
    assert client.meta.config.retries["total_max_attempts"] == 8  # 7 retries, as dagster-aws
    assert client.meta.endpoint_url == s3_endpoint


def test_a_step_reads_and_writes_through_one_lake(
    lake_env: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left at dagster-aws's defaults, the resource's lake is the one `gros://` opens."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    Lake.open().publish(pd.DataFrame({"a": [1]}), DatasetId("up", "master"), "2024-01-01")
    seen: dict[str, object] = {}

    @asset(required_resource_keys={"lake"})
    def probe(context: AssetExecutionContext) -> None:
        pd.read_csv("gros://up")
        seen["resource"] = context.resources.lake.get_lake()
        seen["gros"] = Lake.open()

    assert materialize([probe], resources={"lake": LakeResource()}).success
    assert seen["resource"] is seen["gros"]
    if lake_env.startswith("s3://"):
        assert _presigned_algorithm(seen["resource"].store.client) == ["AWS4-HMAC-SHA256"]
