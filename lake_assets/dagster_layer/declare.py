"""Declaring a dataset: one decorator on the function that builds one partition of it.

    @dataset(
        repo="flights_silver",
        layer="silver",
        upstreams={"flights": "gros://flights_bronze", "airlines": "gros://airlines:latest"},
        schema=FlightsSilver,
        owners=["team:ops"],
        start_date="2013-01-01",
        end_date="2014-01-01",
    )
    def flights_silver(flights: pd.DataFrame, airlines: pd.DataFrame) -> pd.DataFrame: ...

The declaration is checked here (a bad one names the dataset and the problem at definition
load); `build.py` turns a list of them into Dagster assets once the deployment's branch is known.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pandera.pandas as pa
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lake_assets.dagster_layer.checks import SchemaLike, as_schema, schema_fingerprint
from lake_assets.lake import GrosUri, LakeError, parse_uri
from lake_assets.lake.contract.names import validate_repo
from lake_assets.lake.contract.uri import SCHEME

LAYERS = ("bronze", "silver", "gold")
CONTEXT_PARAM = "context"
_OWNER = re.compile(r"team:\S+|[^@\s]+@[^@\s]+\.[^@\s]+")  # as Dagster's, without spaces
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

DatasetFn = Callable[..., Any]


class DeclarationError(LakeError, ValueError):
    """A dataset declaration that cannot become an asset; the message names the dataset."""


class DatasetSpec(BaseModel):
    """The declared facts of a dataset, validated as a whole so every problem is reported."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: Annotated[str, AfterValidator(validate_repo)]
    layer: Literal["bronze", "silver", "gold"]
    upstreams: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    owners: list[str] = Field(default_factory=list)
    start_date: dt.date
    end_date: dt.date | None = None
    quarantine_budget: float | None = Field(default=None, ge=0.0, le=1.0)
    heavy: bool = False

    @model_validator(mode="after")
    def _span(self) -> DatasetSpec:
        if self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError(
                f"end_date {self.end_date} is exclusive and must be after start_date "
                f"{self.start_date}"
            )
        return self

    @field_validator("upstreams")
    @classmethod
    def _upstream_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _NAME.fullmatch(name) or name == CONTEXT_PARAM:
                raise ValueError(
                    f"upstream name {name!r} must be a Python identifier other than "
                    f"{CONTEXT_PARAM!r} (it is the function's parameter)"
                )
        return v

    @field_validator("owners")
    @classmethod
    def _owners(cls, v: list[str]) -> list[str]:
        for owner in v:
            if not _OWNER.fullmatch(owner):
                raise ValueError(f"owner {owner!r} is neither an email nor 'team:NAME'")
        return v


@dataclass(frozen=True)
class Upstream:
    """A declared upstream: the function parameter it feeds and the URI it is read by."""

    name: str
    uri: GrosUri
    branch_given: bool

    def resolve(self, branch: str) -> GrosUri:
        """The URI with its branch made explicit; `branch` applies when none was written."""
        if self.branch_given:
            return self.uri
        tag = self.uri.tag
        return parse_uri(f"{SCHEME}{self.uri.repo}/{branch}" + (f":{tag}" if tag else ""))


@dataclass(frozen=True)
class Dataset:
    """A declared dataset. Its branch is the deployment's, known only when it is built."""

    spec: DatasetSpec
    fn: DatasetFn
    schema: pa.DataFrameSchema
    upstreams: tuple[Upstream, ...]
    wants_context: bool

    @property
    def repo(self) -> str:
        return self.spec.repo

    @property
    def layer(self) -> str:
        return self.spec.layer

    @property
    def code_version(self) -> str:
        """Changes when the function's source, the schema or the upstreams change."""
        h = hashlib.sha256()
        h.update(_source(self.fn))
        h.update(schema_fingerprint(self.schema).encode())
        h.update(repr(sorted(self.spec.upstreams.items())).encode())
        h.update(repr(self.spec.quarantine_budget).encode())
        return h.hexdigest()[:16]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The plain function, for unit tests and notebooks."""
        return self.fn(*args, **kwargs)


def _source(fn: DatasetFn) -> bytes:
    try:
        return inspect.getsource(fn).encode()
    except (OSError, TypeError):  # defined in a REPL or by exec: hash the code object
        code = fn.__code__
        return code.co_code + repr(code.co_consts).encode() + repr(code.co_names).encode()


def dataset(
    *,
    repo: str,
    layer: str,
    schema: SchemaLike,
    start_date: str | dt.date,
    end_date: str | dt.date | None = None,
    upstreams: Mapping[str, str] | None = None,
    description: str | None = None,
    owners: Sequence[str] = (),
    quarantine_budget: float | None = None,
    heavy: bool = False,
) -> Callable[[DatasetFn], Dataset]:
    """Declare the dataset `repo` built by the decorated function, one partition per call.

    Its daily partitions run from `start_date` up to `end_date` (exclusive, as Dagster's), or
    up to today without one, as a live feed's should.
    The function takes one DataFrame per upstream (parameters named as in `upstreams`) and
    optionally `context: DatasetContext`, and returns the partition's DataFrame. Set
    `quarantine_budget` (a share of input rows) when it sets rows aside with
    `context.quarantine(...)`: above the budget the partition fails instead of publishing.
    `heavy` runs get a bigger Kubernetes pod (the `dagster-k8s/config` run tag)."""

    def decorate(fn: DatasetFn) -> Dataset:
        label = repo if isinstance(repo, str) else repr(repo)
        try:
            spec = DatasetSpec(
                repo=repo,
                layer=layer,  # type: ignore[arg-type]
                upstreams=dict(upstreams or {}),
                description=description or inspect.getdoc(fn) or "",
                owners=list(owners),
                start_date=start_date,  # type: ignore[arg-type]
                end_date=end_date,  # type: ignore[arg-type]
                quarantine_budget=quarantine_budget,
                heavy=heavy,
            )
        except ValidationError as e:
            raise DeclarationError(f"dataset {label}: {_problems(e)}") from None
        try:
            frame_schema = as_schema(schema)
        except TypeError as e:
            raise DeclarationError(f"dataset {label}: {e}") from None
        ups = tuple(_upstream(label, name, uri) for name, uri in spec.upstreams.items())
        wants_context = _check_signature(label, fn, [u.name for u in ups])
        return Dataset(spec, fn, frame_schema, ups, wants_context)

    return decorate


def declare(fn: DatasetFn, **options: Any) -> Dataset:
    """`@dataset(**options)` applied to `fn`."""
    return dataset(**options)(fn)


def _problems(e: ValidationError) -> str:
    found = []
    for err in e.errors():
        where = ".".join(map(str, err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error" and where == "layer":
            msg = f"unknown layer {err['input']!r}; a layer is one of {', '.join(LAYERS)}"
        found.append(f"{where}: {msg}" if where and where not in msg else msg)
    return "; ".join(found)


def _upstream(label: str, name: str, declared: str) -> Upstream:
    try:
        uri = parse_uri(declared)
    except LakeError as e:
        raise DeclarationError(f"dataset {label}: upstream {name!r}: {e}") from None
    body = declared[len(SCHEME) :].rsplit(":", 1)[0]
    return Upstream(name, uri, branch_given="/" in body)


def _check_signature(label: str, fn: DatasetFn, names: list[str]) -> bool:
    if not callable(fn):
        raise DeclarationError(f"dataset {label}: @dataset decorates a function, not {fn!r}")
    params = inspect.signature(fn).parameters
    accepted = [p for p in params if p != CONTEXT_PARAM]
    missing = [n for n in names if n not in params]
    extra = [p for p in accepted if p not in names]
    if missing or extra:
        problems = [f"no parameter for {missing}"] if missing else []
        problems += [f"parameters {extra} are not upstreams"] if extra else []
        raise DeclarationError(
            f"dataset {label}: the function {fn.__name__}{inspect.signature(fn)} must take "
            f"exactly its upstreams {names} (and optionally {CONTEXT_PARAM!r}); "
            + ", ".join(problems)
        )
    return CONTEXT_PARAM in params
