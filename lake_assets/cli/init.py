"""`lake init PATH --repo NAME`: write a team's own repo, its own code location on the lake.

The files are the templates of `lake_assets.scaffold` (`template/`, one `string.Template` per
file), filled in with the repo name, the package named after it and the installed
lake_assets version, which the new repo pins."""

from __future__ import annotations

import importlib.metadata
import keyword
import re
import string
import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from lake_assets.cli.render import emit_json, out
from lake_assets.lake.contract.errors import LakeError
from lake_assets.lake.contract.names import validate_repo

TEMPLATES = "lake_assets.scaffold"
SUFFIX = ".tmpl"
EXAMPLE_UPSTREAM = "flights_silver"
"""The dataset the example reads: a repo of that name would read itself."""
TAKEN = {"lake_assets", "lake_assets_tests", "dagster", "pandas", "pandera", "tests"}
"""Packages the new one must not shadow, besides the standard library's."""


class InitError(LakeError):
    """`lake init` cannot write the repo asked for."""


def init(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="A new or empty directory for the repo.")
    ],
    repo: Annotated[
        str,
        typer.Option(
            "--repo", metavar="NAME", help="The lake repo (dataset) the example publishes."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON.")
    ] = False,
) -> None:
    """Write a team's repo at PATH: a Python package whose `definitions.py` declares one
    example dataset NAME and builds its code location, its tests, pyproject.toml pinning this
    lake_assets, workspace.yaml, dagster.yaml, a Dockerfile and its helm/values.yaml entry."""
    values = template_values(repo)
    target = _empty_directory(path)
    written = write_repo(target, values)
    commands = [
        f"cd {path}",
        "uv venv && . .venv/bin/activate && uv pip install -e '.[dev]'",
        "pytest",
        "dagster dev",
    ]
    if as_json:
        emit_json(
            {
                "path": str(target),
                "repo": values["repo"],
                "package": values["pkg"],
                "lake_assets": values["version"],
                "files": written,
                "next": commands,
            }
        )
        return
    out.print(
        f"wrote {len(written)} files of the {repo} repo (package {values['pkg']}, "
        f"lake_assets=={values['version']}) to {path}:",
        markup=False,
        soft_wrap=True,
    )
    for name in written:
        out.print(f"  {name}", markup=False, soft_wrap=True)
    out.print("next:", markup=False)
    for command in commands:
        out.print(f"  {command}", markup=False, soft_wrap=True)


def template_values(repo: str) -> dict[str, str]:
    """The placeholders of the templates for the lake repo `repo`, checked."""
    validate_repo(repo)
    pkg = re.sub(r"[-.]", "_", repo)
    if not pkg.isidentifier() or keyword.iskeyword(pkg):
        raise InitError(
            f"cannot name a Python package after repo {repo!r}: {pkg!r} is not an identifier "
            "(start the name with a letter or '_')"
        )
    if pkg in TAKEN or pkg in sys.stdlib_module_names:
        raise InitError(
            f"cannot name a Python package after repo {repo!r}: {pkg!r} would shadow the "
            "module of that name; choose another repo name"
        )
    if repo == EXAMPLE_UPSTREAM:
        raise InitError(
            f"repo {repo!r} is the dataset the example reads (gros://{EXAMPLE_UPSTREAM}); "
            "choose another repo name"
        )
    k8s_name = re.sub(r"[^a-z0-9]+", "-", repo.lower()).strip("-")[:40].strip("-")
    return {
        "repo": repo,
        "pkg": pkg,
        "k8s_name": k8s_name or "team-repo",
        "version": importlib.metadata.version("lake_assets"),
        "dagster_version": importlib.metadata.version("dagster"),
    }


def _empty_directory(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise InitError(f"cannot write a repo at {str(path)!r}: it is a file")
    if path.is_dir() and any(path.iterdir()):
        raise InitError(
            f"cannot write a repo at {str(path)!r}: the directory is not empty "
            "(lake init writes a new repo; give a new or empty directory)"
        )
    return path.resolve()


def templates() -> dict[str, Traversable]:
    """Every template by the path it is written to (placeholders of the path not filled in)."""
    found: dict[str, Traversable] = {}

    def walk(node: Traversable, parts: tuple[str, ...]) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, (*parts, child.name))
            elif child.name.endswith(SUFFIX):
                found["/".join((*parts, child.name.removesuffix(SUFFIX)))] = child

    walk(files(TEMPLATES) / "template", ())
    return found


def output_path(template: str, values: dict[str, str]) -> str:
    """`pkg/` and `pkg_tests/` are the package and its tests; `gitignore` is `.gitignore`."""
    first, sep, rest = template.partition("/")
    if sep and first in ("pkg", "pkg_tests"):
        first = values["pkg"] + first.removeprefix("pkg")
    elif not sep and first == "gitignore":
        first = ".gitignore"
    return first + sep + rest


def write_repo(root: Path, values: dict[str, str]) -> list[str]:
    """Write every template, filled in, under `root`; the paths written, sorted."""
    written = []
    for template, source in sorted(templates().items()):
        name = output_path(template, values)
        text = string.Template(source.read_text(encoding="utf-8")).substitute(values)
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if text.startswith("#!"):
            target.chmod(0o755)
        written.append(name)
    return sorted(written)
