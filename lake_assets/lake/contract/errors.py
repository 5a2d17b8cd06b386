"""Errors of the lake protocol: each names the bad value and the rule it broke."""

from __future__ import annotations


class LakeError(Exception):
    """Base of every error the lake raises on purpose."""


class InvalidName(LakeError, ValueError):
    """A repo, branch or date that breaks GROS_SPEC §2 (raised before any I/O)."""


class InvalidUri(LakeError, ValueError):
    """A `gros://` URI that does not follow GROS_SPEC §4's grammar."""


class NotFound(LakeError, FileNotFoundError):
    """A dataset, date or index that does not exist in the lake."""


class UnknownDataset(NotFound):
    """The lake holds nothing of this `(repo, branch)`: most likely a misspelling, so the
    message names the closest repos or the repo's branches."""


class MissingDate(NotFound):
    """The dataset exists but has no data for the date, index or `latest` asked for; the
    message lists its newest dates."""


class CorruptObject(LakeError):
    """An object exists but its content breaks the contract (bad JSON, not gzip, not CSV)."""


class StoreUnavailable(LakeError, ConnectionError):
    """The store cannot be reached (dead endpoint, missing bucket, denied access)."""


class PublishConflict(LakeError):
    """A conditional write lost too many races in a row."""


class AlreadyPublished(LakeError):
    """A version exists and the caller asked not to overwrite it."""

    uri: str = ""
    key: str = ""

    @classmethod
    def of(cls, uri: str, key: str, how: str = "pass overwrite=True") -> AlreadyPublished:
        """The one wording of the refusal; `how` says how this caller overwrites (a command
        re-raises it with its own flag)."""
        error = cls(f"{uri} is already published ({key} exists); {how} to replace it")
        error.uri, error.key = uri, key
        return error
