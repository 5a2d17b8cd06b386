"""What changed in the lake and what must be rebuilt: `latest` polls, listing sweeps and
the cascade planner. No Dagster, so a sensor is a thin layer over it."""
