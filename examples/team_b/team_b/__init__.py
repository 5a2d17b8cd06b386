"""Team B's code location: its own repo in real life, kept here as an example of a second
location on the lake the example pipeline (team A) publishes to."""
