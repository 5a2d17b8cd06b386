"""What a dataset function may know about the partition it builds, besides its inputs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lake_assets.lake import DatasetId, GrosRef


@dataclass
class DatasetContext:
    """One partition being built: its date, the upstream versions read for it (by input
    name, as recorded for lineage), and the rows the function set aside.

    Declare a parameter named `context` to receive it. A unit test builds one from the dataset
    and the day alone: `DatasetContext(DatasetId("repo", "master"), "2024-01-02")`."""

    dataset: DatasetId
    partition: str
    refs: dict[str, GrosRef] = field(default_factory=dict)
    log: logging.Logger | Any = field(default_factory=lambda: logging.getLogger("lake_assets"))
    metadata: dict[str, Any] = field(default_factory=dict)
    quarantined: list[pd.DataFrame] = field(default_factory=list)
    input_rows: int = 0

    def quarantine(self, rows: pd.DataFrame, reason: str | pd.Series) -> None:
        """Set rows aside instead of dropping them silently: they are counted by reason, shown
        in the quarantine check, and fail the run when they exceed the declared budget."""
        if not rows.empty:
            self.quarantined.append(rows.assign(_reason=reason))

    def count_input(self, rows: int) -> None:
        """The number of rows the quarantine budget is measured against."""
        self.input_rows += rows

    @property
    def quarantine_frame(self) -> pd.DataFrame:
        if not self.quarantined:
            return pd.DataFrame({"_reason": pd.Series([], dtype="str")})
        return pd.concat(self.quarantined, ignore_index=True)
