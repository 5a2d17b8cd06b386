"""Turning a bronze day into silver rows: type every value, deduplicate, flag cancellations,
check codes against the references, and set aside (with a reason) every row that fails.

The same split feeds the silver datasets and the quarantine dataset, so what one keeps and
the other holds always add up to what bronze received."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from lake_assets.pipeline.schemas import FLIGHTS_RAW, WEATHER_RAW, FlightsSilver, WeatherSilver

LOCAL_TZ = "America/New_York"
FLIGHT_KEY = ["carrier", "flight", "origin", "sched_dep_at"]
WEATHER_KEY = ["origin", "time_hour"]
_TEXT = {"carrier", "tailnum", "origin", "dest", "time_hour"}
_FLIGHT_NUMBERS = [c for c in FLIGHTS_RAW if c not in _TEXT]
_WEATHER_NUMBERS = [c for c in WEATHER_RAW if c not in _TEXT]


@dataclass
class Split:
    """Rows kept (typed) and rows set aside (as received, with `_reason`)."""

    kept: pd.DataFrame
    rejected: pd.DataFrame
    duplicates: int
    received: int


class Rejects:
    """Collects, per source row, the first reason it was set aside."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.index = raw.index
        self.reasons = np.full(len(raw), None, dtype=object)

    def add(self, mask: pd.Series, reason: str | pd.Series) -> None:
        fresh = mask.fillna(False).to_numpy(dtype=bool) & self.mask
        if fresh.any():
            values = reason.to_numpy(dtype=object) if isinstance(reason, pd.Series) else reason
            self.reasons[fresh] = values[fresh] if isinstance(values, np.ndarray) else values

    def add_rows(self, rows: Sequence[int], reason: str) -> None:
        for row in rows:
            if self.reasons[row] is None:
                self.reasons[row] = reason

    @property
    def mask(self) -> np.ndarray:
        """Rows not (yet) set aside."""
        return np.equal(self.reasons, None)

    def rejected(self, raw: pd.DataFrame) -> pd.DataFrame:
        bad = ~self.mask
        reasons = pd.Series(self.reasons[bad], index=raw.index[bad], dtype="str")
        return raw[bad].assign(_reason=reasons)


def require_columns(raw: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """A missing column is a malformed delivery, not a bad row: fail the whole day."""
    if missing := [c for c in columns if c not in raw.columns]:
        raise ValueError(f"{what} lacks columns {missing}")


def _numbers(raw: pd.DataFrame, columns: Sequence[str], rejects: Rejects) -> pd.DataFrame:
    typed = pd.DataFrame(index=raw.index)
    for col in columns:
        typed[col] = pd.to_numeric(raw[col], errors="coerce").astype("float64")
        rejects.add(raw[col].notna() & typed[col].isna(), f"not a number: {col}")
    return typed


def _strings(raw: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: raw[c].astype("str").where(raw[c].notna()) for c in columns})


def _row_checks(candidate: pd.DataFrame, schema: type[pa.DataFrameModel], rejects: Rejects):
    """Rows breaking the silver schema's row checks are set aside, named by the check."""
    try:
        schema.validate(candidate, lazy=True)
    except pa.errors.SchemaErrors as e:
        cases = e.failure_cases
        whole = cases[cases["index"].isna()]
        if len(whole):
            raise ValueError(
                f"{schema.Config.name}: "
                + "; ".join(f"{r.column}: {r.check}" for r in whole.head(5).itertuples())
            ) from None
        for (column, check), rows in cases.groupby(["column", "check"]):
            rejects.add_rows(rows["index"].astype("int64").tolist(), f"{column}: {check}")


def split_flights(raw: pd.DataFrame, carriers: frozenset[str], airports: frozenset[str]) -> Split:
    require_columns(raw, FLIGHTS_RAW, "the flights extract")
    raw = raw.reset_index(drop=True)
    rejects = Rejects(raw)
    num = _numbers(raw, _FLIGHT_NUMBERS, rejects)
    text = _strings(raw, ["carrier", "tailnum", "origin", "dest", "time_hour"])
    for col in ("carrier", "origin", "dest", "flight", "distance", "sched_dep_time"):
        rejects.add(raw[col].isna(), f"missing: {col}")
    local = pd.to_datetime(
        {
            "year": num["year"],
            "month": num["month"],
            "day": num["day"],
            "hour": num["hour"],
            "minute": num["minute"],
        },
        errors="coerce",
    )
    sched = local.dt.tz_localize(LOCAL_TZ, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    rejects.add(sched.isna(), "invalid scheduled departure")
    time_hour = pd.to_datetime(text["time_hour"], utc=True, errors="coerce")
    rejects.add(time_hour.isna(), "invalid time_hour")
    rejects.add(~text["carrier"].isin(carriers), "unknown carrier: " + text["carrier"].fillna(""))
    rejects.add(~text["origin"].isin(airports), "unknown airport: " + text["origin"].fillna(""))
    rejects.add(~text["dest"].isin(airports), "unknown airport: " + text["dest"].fillna(""))
    cancelled = num["dep_delay"].isna()
    candidate = pd.DataFrame(
        {
            "flight_date": local.dt.strftime("%Y-%m-%d"),
            "carrier": text["carrier"],
            "flight": num["flight"],
            "tailnum": text["tailnum"],
            "origin": text["origin"],
            "dest": text["dest"],
            "sched_dep_at": sched.dt.as_unit("us"),
            "dep_at": (sched + pd.to_timedelta(num["dep_delay"], unit="min")).dt.as_unit("us"),
            "time_hour": time_hour.dt.as_unit("us"),
            "dep_delay": num["dep_delay"],
            "arr_delay": num["arr_delay"],
            "air_time": num["air_time"],
            "distance": num["distance"],
            "cancelled": cancelled,
        }
    )
    return _split(raw, candidate, rejects, FLIGHT_KEY, FlightsSilver)


def _split(
    raw: pd.DataFrame,
    candidate: pd.DataFrame,
    rejects: Rejects,
    key: list[str],
    schema: type[pa.DataFrameModel],
) -> Split:
    """Row-check the typed rows, then keep those no check rejected, deduplicated on `key`."""
    ok = candidate[rejects.mask]
    _row_checks(ok.drop_duplicates(key), schema, rejects)
    kept = candidate[rejects.mask]
    deduped = kept.drop_duplicates(key)
    return Split(
        kept=deduped.reset_index(drop=True),
        rejected=rejects.rejected(raw),
        duplicates=len(kept) - len(deduped),
        received=len(raw),
    )


def split_weather(raw: pd.DataFrame, airports: frozenset[str]) -> Split:
    require_columns(raw, WEATHER_RAW, "the weather extract")
    raw = raw.reset_index(drop=True)
    rejects = Rejects(raw)
    num = _numbers(raw, _WEATHER_NUMBERS, rejects)
    text = _strings(raw, ["origin", "time_hour"])
    time_hour = pd.to_datetime(text["time_hour"], utc=True, errors="coerce")
    rejects.add(time_hour.isna(), "invalid time_hour")
    rejects.add(~text["origin"].isin(airports), "unknown airport: " + text["origin"].fillna(""))
    candidate = pd.DataFrame(
        {
            "origin": text["origin"],
            "time_hour": time_hour.dt.as_unit("us"),
            **{c: num[c] for c in _WEATHER_NUMBERS if c not in ("year", "month", "day", "hour")},
        }
    )
    return _split(raw, candidate, rejects, WEATHER_KEY, WeatherSilver)
