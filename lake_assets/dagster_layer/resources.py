"""The lake as a Dagster resource: dagster-aws's S3 settings, merged into the lake's own
S3 configuration (SigV4, its pool and timeouts), so a step's `gros://` reads and its IO
manager share one `Lake` and one client."""

from typing import Any
from urllib.parse import urlparse

from dagster_aws.s3.resources import ResourceWithS3Configuration
from pydantic import Field

from lake_assets.lake import Lake
from lake_assets.lake.storage.store import lake_url


class LakeResource(ResourceWithS3Configuration):
    """The lake root (`LAKE_URL` when unset: the same default as every other process), with
    S3 settings named as dagster-aws's `S3Resource` names them; unset ones come from the
    standard AWS chain (`AWS_ENDPOINT_URL_S3`, `AWS_REGION`, ...)."""

    lake_url: str | None = Field(
        default=None, description="s3://BUCKET[/PREFIX], file:///PATH or a path; else LAKE_URL."
    )

    @property
    def url(self) -> str:
        return self.lake_url or lake_url()

    def client_options(self) -> dict[str, Any]:
        """The settings that differ from dagster-aws's defaults, as the S3 store takes them:
        left at their defaults, the resource opens the very lake `gros://` reads open; set,
        they are plain values, so every call still gets the same `Lake` and client."""
        fields = ResourceWithS3Configuration.model_fields
        return {
            name: getattr(self, name)
            for name in fields
            if getattr(self, name) != fields[name].default
        }

    def get_lake(self) -> Lake:
        url = self.url
        return Lake.open(url, **(self.client_options() if urlparse(url).scheme == "s3" else {}))
