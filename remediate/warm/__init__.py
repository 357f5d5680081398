"""Warm starts: a long-lived parent that has imported Prefect and the flows forks one child
per flow run; a standard-library launcher, the work pool's job command, hands it the run."""
