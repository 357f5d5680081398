"""The incident as the remediation flow sees it: the `Incident` every stage takes,
the run's outcome, and the issue's title, labels and body.

Does not write to a tracker (``remediate.trackers``) or read run history (``remediate.runs``)."""
