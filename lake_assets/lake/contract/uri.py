"""`gros://REPO[/BRANCH][:TAG]` of GROS_SPEC §4: parsing only, no I/O."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from lake_assets.lake.contract.errors import InvalidName, InvalidUri
from lake_assets.lake.contract.keys import DatasetId
from lake_assets.lake.contract.names import default_branch, validate_date

SCHEME = "gros://"
_INDEX = re.compile(r"[+-]?[0-9]+")
_DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
_SHA_PREFIX = re.compile(r"[0-9a-f]{8,64}")


class TagKind(enum.Enum):
    """How a URI picks a version; NONE is the tag that makes a declaring dataset triggered."""

    NONE = "none"
    LATEST = "latest"
    DATE = "date"
    INDEX = "index"


@dataclass(frozen=True)
class GrosUri:
    dataset: DatasetId
    kind: TagKind
    date: str | None = None
    index: int | None = None
    version: str | None = None
    """After `DATE@` (spec §6): a signed index over the date's versions, or a sha256 prefix
    of at least 8 hex digits."""

    @property
    def repo(self) -> str:
        return self.dataset.repo

    @property
    def branch(self) -> str:
        return self.dataset.branch

    @property
    def tag(self) -> str | None:
        """The tag as written (None for no tag)."""
        match self.kind:
            case TagKind.NONE:
                return None
            case TagKind.LATEST:
                return "latest"
            case TagKind.DATE:
                return self.date if self.version is None else f"{self.date}@{self.version}"
            case TagKind.INDEX:
                return str(self.index)

    def __str__(self) -> str:
        tag = self.tag
        return f"{SCHEME}{self.dataset}" + (f":{tag}" if tag is not None else "")


def parse_uri(uri: str, *, branch: str | None = None) -> GrosUri:
    """Parse a `gros://` URI; the branch defaults to `branch`, else the default branch."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise InvalidUri(f"invalid URI {uri!r}: a lake URI is gros://REPO[/BRANCH][:TAG]")
    body = uri[len(SCHEME) :]
    tag: str | None = None
    if ":" in body:
        body, tag = body.rsplit(":", 1)
        if not tag:
            raise InvalidUri(f"invalid URI {uri!r}: the tag after ':' is empty")
    repo, sep, branch_part = body.partition("/")
    if sep and not branch_part:
        raise InvalidUri(f"invalid URI {uri!r}: the branch after '/' is empty")
    try:
        dataset = DatasetId(repo, branch_part if sep else (branch or default_branch()))
    except InvalidName as e:
        raise InvalidUri(f"invalid URI {uri!r}: {e}") from None
    version = None
    if tag is not None and "@" in tag:
        tag, version = tag.split("@", 1)
        version = _parse_version(uri, tag, version)
    return GrosUri(dataset, *_parse_tag(uri, tag), version=version)


def _parse_version(uri: str, date: str, version: str) -> str:
    """`V` of `DATE@V`, checked: a signed integer or a sha256 prefix of 8 to 64 hex digits."""
    if not _DATE_LIKE.fullmatch(date):
        raise InvalidUri(f"invalid URI {uri!r}: '@' may follow only a YYYY-MM-DD date")
    if _INDEX.fullmatch(version) and not (len(version) >= 8 and version.isdigit()):
        return str(int(version))  # eight or more bare digits: a sha256 prefix, not an index
    if _SHA_PREFIX.fullmatch(version.lower()):
        return version.lower()
    raise InvalidUri(
        f"invalid URI {uri!r}: version {version!r} after '@' is neither a signed integer "
        "index nor a sha256 prefix of at least 8 hex digits"
    )


def _parse_tag(uri: str, tag: str | None) -> tuple[TagKind, str | None, int | None]:
    if tag is None:
        return TagKind.NONE, None, None
    if tag == "latest":
        return TagKind.LATEST, None, None
    if _INDEX.fullmatch(tag):
        return TagKind.INDEX, None, int(tag)
    try:
        return TagKind.DATE, validate_date(tag), None
    except InvalidName as e:
        if _DATE_LIKE.fullmatch(tag):
            raise InvalidUri(f"invalid URI {uri!r}: {e}") from None
        raise InvalidUri(
            f"invalid URI {uri!r}: tag {tag!r} is none of 'latest', a YYYY-MM-DD date "
            "or a signed integer index"
        ) from None
