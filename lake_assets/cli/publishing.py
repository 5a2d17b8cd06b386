"""`lake publish`: publish a CSV or gzip CSV file as one version, as another team's job would."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from isal import igzip

from lake_assets.cli.render import emit_json, out, ref_json
from lake_assets.cli.session import current_lake
from lake_assets.lake.contract.errors import AlreadyPublished, LakeError
from lake_assets.lake.contract.refs import GrosRef
from lake_assets.lake.contract.uri import TagKind, parse_uri

if TYPE_CHECKING:
    from lake_assets.lake.codec import gzip_csv as codec

_GZIP_MAGIC = b"\x1f\x8b"


class BadInput(LakeError):
    """The file to publish is not a CSV the lake accepts."""


def publish(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A CSV file, or a gzip CSV (.csv.gz).")
    ],
    uri: Annotated[str, typer.Argument(metavar="URI", help="gros://REPO[/BRANCH]:YYYY-MM-DD")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the date if it is already published.")
    ] = False,
    upstream: Annotated[
        list[str] | None,
        typer.Option(
            "--upstream", metavar="URI", help="A version this data was made from (repeatable)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the published ref as JSON.")
    ] = False,
) -> None:
    """Publish FILE as version DATE of a dataset: data object, production record, audit objects
    of the upstreams, then `latest` (moved only forward)."""
    target = parse_uri(uri)
    if target.kind is not TagKind.DATE or target.date is None:
        raise BadInput(
            f"cannot publish to {uri!r}: the URI must name the date, gros://REPO[/BRANCH]:YYYY-MM-DD"
        )
    lake = current_lake()
    upstreams = [lake.resolve(parse_uri(u)) for u in upstream or []]
    encoded = encode_file(file)
    try:
        ref = lake.publish_encoded(
            encoded,
            target.dataset,
            target.date,
            upstreams=upstreams,
            producer={"function": "lake publish", "parameters": {"file": file.name}},
            overwrite=force,
        )
    except AlreadyPublished as e:  # the lake's own refusal, told the way this command overwrites
        raise AlreadyPublished.of(e.uri, e.key, "use --force") from None
    if as_json:
        emit_json(ref_json(ref))
        return
    out.print(f"published {ref.version_uri}: {_summary(ref)}", markup=False, soft_wrap=True)


def _summary(ref: GrosRef) -> str:
    return f"{ref.rows} rows, {ref.bytes} bytes, sha256 {ref.sha256}"


def encode_file(path: Path) -> codec.Encoded:
    """The file's bytes as a data object (a plain CSV is gzipped, a gzip CSV kept as is),
    once it parses as UTF-8 CSV with a header row."""
    from lake_assets.lake.codec import (
        gzip_csv as codec,
    )  # pandas and pyarrow: not for the rest of `lake`

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror or e}") from None
    if raw[:2] == _GZIP_MAGIC:
        data = raw
        try:
            text = igzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise BadInput(f"{path} is not a valid gzip file: {e}") from None
    else:
        text = raw
        buf = io.BytesIO()
        with igzip.GzipFile(
            fileobj=buf, mode="wb", compresslevel=codec.COMPRESS_LEVEL, mtime=0
        ) as gz:
            gz.write(raw)
        data = buf.getvalue()
    rows = count_rows(text, str(path))
    return codec.Encoded(data, hashlib.sha256(data).hexdigest(), rows)


def count_rows(text: bytes, name: str) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not text.strip():
        raise BadInput(f"{name} is empty: a dataset partition needs at least a header row")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{name} is not UTF-8 text: {e}") from None
    try:
        table = pacsv.read_csv(
            io.BytesIO(text), parse_options=pacsv.ParseOptions(newlines_in_values=True)
        )
    except pa.ArrowInvalid as e:
        raise BadInput(f"{name} is not a valid CSV file: {e}") from None
    return table.num_rows
