"""Team B's code location, built with one call from the public API: one dataset of its own,
reading team A's `gros://flights_silver` with no tag, so it reruns whenever team A publishes
a day (whichever location built it). Team A's dataset is an external asset here, never a
second definition: both locations share one asset graph in the UI.

Served next to team A by `workspace_two_teams.yaml` (`working_directory: examples/team_b`
puts this package on the path of the code server and of the runs it launches)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from lake_assets import DatasetContext, ExternalSource, dataset, lake_definitions

CARRIER_COUNTS = pa.DataFrameSchema(
    {
        "carrier": pa.Column(str, pa.Check.str_matches(r"^[A-Z0-9]{2}$")),  # an IATA code
        "flights": pa.Column(int, pa.Check.ge(0)),
    },
    name="CarrierFlights",
    strict=True,
)


@dataset(
    repo="team_b_carrier_counts",
    layer="gold",
    upstreams={"flights": "gros://flights_silver"},
    schema=CARRIER_COUNTS,
    start_date="2013-01-01",
    owners=["team:b"],
)
def team_b_carrier_counts(flights: pd.DataFrame, context: DatasetContext) -> pd.DataFrame:
    """Flights per carrier and day, as team B counts them from team A's cleaned flights."""
    context.count_input(len(flights))
    return flights.groupby("carrier", sort=True).size().rename("flights").reset_index()


FLIGHTS_SILVER = ExternalSource(
    "gros://flights_silver",
    "Team A's cleaned flights (the example pipeline's silver layer).",
    owners=("team:a",),
)

defs = lake_definitions([team_b_carrier_counts], external=[FLIGHTS_SILVER])
