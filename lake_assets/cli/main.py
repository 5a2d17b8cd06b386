"""The `lake` app: global options, the commands, and the one-line error handler."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any, NoReturn

import click
import typer
from typer.core import TyperGroup

from lake_assets.cli import (
    data,
    diff,
    gc,
    history,
    init,
    inspect,
    lineage_export,
    lineage_tree,
    listing,
    publishing,
    session,
    sql,
    verify,
)
from lake_assets.lake import openlineage, reading
from lake_assets.lake.contract.errors import LakeError

EXIT_ERROR = 1
EXIT_INTERNAL = 3


class LakeApp(typer.Typer):
    """A Typer app whose failures end as one line on stderr and a non-zero exit, never a
    traceback (set `LAKE_DEBUG=1` to see one for an unexpected error)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except LakeError as e:
            _fail(str(e), EXIT_ERROR)
        except Exception as e:
            if os.environ.get("LAKE_DEBUG"):
                raise
            if type(e).__module__.startswith(("botocore", "boto3", "urllib3")):
                _fail(f"cannot use the S3 store: {e}", EXIT_ERROR)
            _fail(
                f"internal error: {type(e).__name__}: {e} (LAKE_DEBUG=1 shows more)", EXIT_INTERNAL
            )


def _fail(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())
    sys.stderr.write(f"lake: error: {line}\n")
    sys.exit(code)


app = LakeApp(
    name="lake",
    help="Browse, inspect, trace, publish and verify a GROS lake (gros://REPO[/BRANCH][:TAG]).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _options(
    lake: Annotated[
        str | None,
        typer.Option(
            "--lake",
            envvar="LAKE_URL",
            metavar="URL",
            help="Lake root: s3://BUCKET[/PREFIX], file:///PATH or a path (default: LAKE_URL, "
            "else the embedded lake).",
        ),
    ] = None,
) -> None:
    session.start(lake)


app.command("ls")(listing.ls)
app.command("info")(inspect.info)
app.command("resolve")(inspect.resolve)
app.command("head")(data.head)
app.command("cat")(data.cat)


class _ShowByDefault(TyperGroup):
    """`lake lineage URI` shows a version's lineage; `lake lineage export` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


lineage_app = typer.Typer(
    cls=_ShowByDefault,
    help="A version's lineage (`lake lineage URI`), or the lake's as OpenLineage (`export`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
lineage_app.command("show")(lineage_tree.lineage)
lineage_app.command("export")(lineage_export.export)
app.add_typer(lineage_app, name="lineage")
app.command("history")(history.history)
app.command("diff")(diff.diff)
app.command("publish")(publishing.publish)
app.command("verify")(verify.verify)
app.command("gc")(gc.gc)
app.command("sql")(sql.sql)
app.command("init")(init.init)


def main() -> NoReturn:
    """The `lake` script: run the app, then end the process without interpreter shutdown.

    A native reader thread (pyarrow's, reading through a Python file object) may still drop
    its last Python reference just after a command returns; if the interpreter is finalizing
    by then, the process aborts ("terminate called without an active exception", exit 134)
    after the command's output was already right. So the output is flushed, the lake's own
    background fetches are finished, and the process ends with `os._exit`."""
    try:
        app(prog_name="lake")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
    reading.finish_background()
    openlineage.finish()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be told
            code = code or EXIT_ERROR
    os._exit(code)


if __name__ == "__main__":
    main()
