"""`gros://` for pandas, in fresh interpreters that never import the project themselves."""

from __future__ import annotations

import gzip
import json
import re
import textwrap
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from lake_assets.lake import CorruptObject, DatasetId, Lake
from lake_assets_tests.raw_lake import RawLake

from .conftest import run_python

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import pandas as pd
    out = {"preloaded": sorted(m for m in sys.modules if m.startswith("lake_assets"))}
    def table(uri, **kw):
        return pd.read_csv(uri, **kw).to_dict("list")
    out["index"] = table("gros://flights/master:-2")
    out["default"] = table("gros://flights")
    out["slash"] = table("gros://repo/feature/x:latest")
    for bad in ("gros://flights/master:foo", "gros://../x", "gros://flights:2013-02-30",
                "gros://flights:1999-01-01"):
        try:
            pd.read_csv(bad)
        except Exception as e:
            out.setdefault("errors", []).append([type(e).__name__, str(e)])
    options = json.loads(sys.argv[1])
    os.environ.pop("LAKE_URL")
    os.environ.pop("AWS_ENDPOINT_URL_S3", None)
    out["options"] = table("gros://flights:0", storage_options=options)
    import lake_assets
    ref = lake_assets.publish(pd.DataFrame({"x": [1]}), "down", None, "2024-01-02", **options)
    opts = dict(options)
    record = lake_assets.lake.Lake.open(opts.pop("lake_url"), **opts).record(ref.dataset, ref.date)
    out["upstreams"] = sorted([u.repo, u.branch, u.date] for u in record.upstreams)
    print(json.dumps(out))
    """
)


def test_read_csv_in_a_fresh_process(lake_env: str, lake: Lake, s3_endpoint: str) -> None:
    for i, date in enumerate(["2024-01-01", "2024-01-02", "2024-01-03"]):
        df = pd.DataFrame({"n": [i], "s": [f'a,"b"\n{i}']})
        lake.publish(df, DatasetId("flights", "master"), date, upstreams=[])
    lake.publish(pd.DataFrame({"z": [7]}), DatasetId("repo", "feature/x"), "2024-01-01")
    options = {"lake_url": lake_env}
    if lake_env.startswith("s3://"):
        options["endpoint_url"] = s3_endpoint
    code = f"import sys; sys.argv[1:] = [{json.dumps(options)!r}]\n{SCRIPT}"
    out = run_python(code, env={"LAKE_URL": lake_env})
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["preloaded"] == []
    assert got["index"] == {"n": [1], "s": ['a,"b"\n1']}
    assert got["default"]["n"] == [2]
    assert got["slash"] == {"z": [7]}
    assert got["options"]["n"] == [0]
    errors = got["errors"]
    assert errors[0][0] == "InvalidUri" and "tag 'foo'" in errors[0][1]
    assert errors[1][0] == "InvalidUri" and "invalid repo '..'" in errors[1][1]
    assert errors[2][0] == "InvalidUri" and "2013-02-30" in errors[2][1]
    assert (
        errors[3][0] == "FileNotFoundError" and "2024-01-03, 2024-01-02, 2024-01-01" in errors[3][1]
    )
    # gros:// reads are lineage: every version the process read is an upstream (spec §5)
    assert sorted(got["upstreams"]) == [
        ["flights", "master", "2024-01-01"],
        ["flights", "master", "2024-01-02"],
        ["flights", "master", "2024-01-03"],
        ["repo", "feature/x", "2024-01-01"],
    ]


def test_gros_is_read_only(lake_env: str) -> None:
    import fsspec

    with pytest.raises(NotImplementedError, match="read-only"):
        fsspec.open("gros://flights:latest", mode="wb").open()


def test_a_misspelled_dataset_is_one_file_not_found_line(lake_env: str, lake: Lake) -> None:
    """What a notebook user sees: pandas' own frames, then gros:// saying what is missing and
    what is there, as a plain FileNotFoundError; no lake internals, no chained exceptions."""
    lake.publish(pd.DataFrame({"n": [1]}), DatasetId("nyc_flights", "master"), "2013-01-01")
    caught = run_python(
        "import pandas as pd\n"
        "try:\n"
        "    pd.read_csv('gros://nyc_flight')\n"
        "except FileNotFoundError as e:\n"
        "    print(type(e).__name__, e.__cause__, e.__suppress_context__)\n"
    )
    assert caught.stdout.split() == ["FileNotFoundError", "None", "True"], caught.stderr
    out = run_python("import pandas as pd; pd.read_csv('gros://nyc_flight')")
    assert out.returncode == 1
    expected = (
        f"FileNotFoundError: dataset nyc_flight/master does not exist in "
        f"{lake.store.url}; did you mean nyc_flights?"
    )
    assert out.stderr.rstrip().splitlines()[-1] == expected
    assert out.stderr.count("Traceback") == 1  # nothing chained
    assert "lake_assets/lake/lake.py" not in out.stderr
    missing = run_python("import pandas as pd; pd.read_csv('gros://nyc_flights:2013-02-01')")
    assert missing.stderr.rstrip().splitlines()[-1] == (
        "FileNotFoundError: nyc_flights/master has no data for 2013-02-01; "
        "nyc_flights/master has 1 date, the newest: 2013-01-01"
    )


CORRUPT = {
    "truncated gzip": gzip.compress(b"a,b\n1,2\n")[:-6],
    "not gzip": b"a,b\n1,2\n",
    "latin-1 text": gzip.compress("name\ncaf\xe9\n".encode("latin-1")),
    "binary": gzip.compress(bytes(range(256)) * 4),
}


@pytest.mark.parametrize("what", CORRUPT)
def test_a_corrupt_object_names_itself(what: str, lake_env: str, raw: RawLake) -> None:
    """pandas meets a CorruptObject naming the key, not a bare gzip or Unicode error."""
    key = "asset/broken/master/data/2024-01-01.csv.gz"
    raw.put(key, CORRUPT[what])
    with pytest.raises(CorruptObject, match=re.escape(key)):
        pd.read_csv("gros://broken:2024-01-01")


def test_info_and_open_agree(lake_env: str, lake: Lake, tmp_path: Path) -> None:
    """`info` gives the size of the text `open` yields, so fsspec's ranged reads and block
    cache work on it."""
    df = pd.DataFrame({"n": range(2000), "s": [f"row {i}" for i in range(2000)]})
    lake.publish(df, DatasetId("sized", "master"), "2024-01-01", upstreams=[])
    fs = fsspec.filesystem("gros")
    with fs.open("gros://sized") as f:
        text = f.read()
    assert fs.info("gros://sized")["size"] == len(text) > lake.resolve("gros://sized").bytes
    assert fs.cat_file("gros://sized", start=-12) == text[-12:]
    assert fs.read_block("gros://sized", 1000, 500, delimiter=b"\n") == _block(text, 1000, 500)
    with fsspec.open("blockcache::gros://sized", blockcache={"cache_storage": str(tmp_path)}) as f:
        assert f.read() == text
    assert pd.read_csv("gros://sized").equals(df)


def _block(text: bytes, offset: int, length: int) -> bytes:
    """fsspec's `read_block` with a delimiter: from after the first delimiter at or past
    `offset` to the first one at or past `offset + length`, inclusive."""
    start = text.index(b"\n", offset) + 1
    return text[start : text.index(b"\n", offset + length) + 1]
