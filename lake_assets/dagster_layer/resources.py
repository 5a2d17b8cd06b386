"""The lake as a Dagster resource, with S3 clients made by dagster-aws's `S3Resource`."""

from urllib.parse import urlparse

from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from lake_assets.lake import Lake
from lake_assets.lake.store import lake_url, open_store


class LakeResource(ConfigurableResource):
    """The lake root (`LAKE_URL` when unset: the same default as every other process).

    S3 endpoint and region default to the standard AWS chain (`AWS_ENDPOINT_URL_S3`, ...)."""

    lake_url: str | None = Field(
        default=None, description="s3://BUCKET[/PREFIX], file:///PATH or a path; else LAKE_URL."
    )
    endpoint_url: str | None = Field(default=None, description="An S3-compatible endpoint.")
    region_name: str | None = None
    _lake: Lake | None = PrivateAttr(default=None)

    @property
    def url(self) -> str:
        return self.lake_url or lake_url()

    def get_lake(self) -> Lake:
        """One `Lake` (and S3 client) per resource instance."""
        if self._lake is None:
            url = self.url
            options = {}
            if urlparse(url).scheme == "s3":
                s3 = S3Resource(endpoint_url=self.endpoint_url, region_name=self.region_name)
                options["client"] = s3.get_client()
            self._lake = Lake(open_store(url, **options))
        return self._lake
