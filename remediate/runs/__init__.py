"""Prefect run plumbing: the run-tag vocabulary, cache keys, concurrency limits, the REST
calls the gateway and CLI make, and questions asked of run history (occurrences, earlier
runs). The one place that knows how runs are tagged and found."""
