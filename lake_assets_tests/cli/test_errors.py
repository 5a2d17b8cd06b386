"""Every failure is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import gzip
import os

import pandas as pd
import pytest

from lake_assets.lake import DatasetId, Lake
from lake_assets_tests.cli.conftest import RawLake, lake_in_process

DS = DatasetId("shop", "master")


@pytest.fixture
def shop(lake: Lake) -> None:
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        lake.publish(pd.DataFrame({"x": [1]}), DS, day, upstreams=[])


def test_bad_uris_and_missing_things(cli, shop: None) -> None:
    cli("info", "gros://bad repo").error("invalid URI", "bad repo")
    cli("head", "s3://shop/master").error("invalid URI", "gros://REPO[/BRANCH][:TAG]")
    cli("resolve", "gros://shop:2024-02-30").error("2024-02-30")
    cli("ls", "shop/bad..branch").error("invalid branch", "bad..branch")
    cli("cat", "gros://nothere").error("dataset nothere/master does not exist", "its repos: shop")
    cli("ls", "shop/dev").error("dataset shop/dev does not exist", "branches of shop: master")
    cli("lineage", "gros://shop:2023-12-31").error(
        "no data for 2023-12-31", "3 dates", "2024-01-03, 2024-01-02, 2024-01-01"
    )
    cli("resolve", "gros://shop:7").error("index 7 is out of range")


def test_misspelled_names_lead_somewhere(cli, shop: None, lake: Lake) -> None:
    lake.publish(pd.DataFrame({"x": [1]}), DatasetId("shop", "feature/x"), "2024-01-01")
    expected = f"dataset shopp/master does not exist in {lake.store.url}; did you mean shop?"
    assert cli("info", "gros://shopp").error() == f"lake: error: {expected}"
    cli("head", "gros://shop/mastr:-1").error(
        "dataset shop/mastr does not exist",
        "branches of shop: feature/x, master; did you mean shop/master?",
    )
    cli("lineage", "gros://shop/dev:2024-01-01").error("branches of shop: feature/x, master")
    cli("resolve", "gros://Shop").error("did you mean shop?")
    cli("ls", "shopp").error("repo 'shopp' has no datasets", "did you mean shop?")
    # a dataset that exists but lacks the date is another error, listing its dates
    cli("info", "gros://shop/feature/x:2024-02-01").error(
        "shop/feature/x has no data for 2024-02-01", "has 1 date, the newest: 2024-01-01"
    )


@pytest.mark.parametrize("lake_url", ["local"], indirect=True)
def test_malformed_objects(cli, shop: None, raw: RawLake) -> None:
    raw.put(DS.latest_key, b"{not json")
    for command in ("info", "resolve", "head", "lineage"):
        cli(command, "gros://shop").error(DS.latest_key, "not a valid GrosRef")
    # an explicit date does not need `latest`
    cli("resolve", "gros://shop:2024-01-01").ok()
    raw.put_csv(DS.data_key("2024-01-01"), "x\n1\n2\n")
    changed = cli("cat", "gros://shop:2024-01-01")
    assert changed.out == "x\n1\n2\n"
    changed.error(DS.data_key("2024-01-01"), "sha256", "changed after it was published")
    raw.put(DS.data_key("2024-01-02"), b"plain text, not gzip")
    cli("head", "gros://shop:2024-01-02").error(DS.data_key("2024-01-02"), "gzip")
    raw.put(DS.record_key("2024-01-03"), b'{"gros_ref": {"repo": "shop"}}')
    cli("info", "gros://shop:2024-01-03").error(DS.record_key("2024-01-03"), "ProductionRecord")


def test_empty_lake_and_bad_lake_url(cli, tmp_path) -> None:
    assert cli("ls").ok().out.startswith("no datasets in")
    cli("ls", "shop").error("repo 'shop' has no datasets", "the lake holds no datasets")
    lake_in_process("--lake", "ftp://host/x", "ls").error("unsupported lake URL", "ftp://host/x")


@pytest.mark.parametrize("lake_url", ["s3"], indirect=True)
def test_unreachable_s3(cli, s3_endpoint: str, lake_url: str) -> None:
    dead = {"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"}
    cli("ls", env=dead).error("cannot reach the S3 endpoint http://127.0.0.1:9")
    cli("info", "gros://shop", env=dead).error("cannot reach the S3 endpoint")
    lake_in_process("--lake", "s3://no-such-bucket-here", "verify").error(
        "bucket 'no-such-bucket-here' does not exist"
    )


FOREIGN = DatasetId("foreign", "master")


def test_head_and_cat_refuse_data_objects_that_break_the_contract(cli, raw: RawLake) -> None:
    """gzip of UTF-8 CSV is the contract: a 0-byte object, text that is not UTF-8, a gzip cut
    short or corrupt each fail with one line naming the object, never exit 0."""
    text = ("id,name\n" + "".join(f"{i},é{i}\n" for i in range(30_000))).encode()
    whole = gzip.compress(text)
    corrupt = bytearray(whole)
    corrupt[40:80] = os.urandom(40)
    objects = {
        "2024-01-01": (b"", "is empty (0 bytes), not a gzip file"),
        "2024-01-02": (gzip.compress("id,name\n1,é\n".encode("latin-1")), "is not UTF-8"),
        "2024-01-03": (gzip.compress(os.urandom(4096)), "is not UTF-8"),
        "2024-01-04": (gzip.compress(text + "é".encode()[:1]), "is not UTF-8"),  # cut short
        "2024-01-05": (whole[: len(whole) // 2], "is not a valid gzip file"),
        "2024-01-06": (bytes(corrupt), "is not a valid gzip file"),
    }
    for day, (data, _) in objects.items():
        raw.put(FOREIGN.data_key(day), data)
    for day, (_, message) in objects.items():
        key = FOREIGN.data_key(day)
        cli("cat", f"gros://foreign:{day}").error(key, message)
        if day not in ("2024-01-04", "2024-01-05"):  # `head` reads only the start of those
            cli("head", f"gros://foreign:{day}").error(key, message)
    assert cli("cat", "gros://foreign:2024-01-02").out == ""  # nothing of a bad chunk is written

    # the same text whole: multi-byte characters straddle cat's chunks, and that is fine
    raw.put(FOREIGN.data_key("2024-01-07"), whole)
    assert cli("cat", "gros://foreign:2024-01-07").ok().out == text.decode()
    assert cli("head", "gros://foreign:2024-01-07", "-n", "1").ok().out == "id,name\n0,é0\n"
    # a gzip of nothing is a valid object (a frame of no columns): empty output, exit 0
    raw.put(FOREIGN.data_key("2024-01-08"), gzip.compress(b""))
    assert cli("cat", "gros://foreign:2024-01-08").ok().out == ""
    assert cli("head", "gros://foreign:2024-01-08").ok().out == ""
