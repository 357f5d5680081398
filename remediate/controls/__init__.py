"""Trust controls: maintenance windows and silences, the automation pause, the breakers that
bound how many actions, fix proposals and model spend automation may use, dry-run (shadow)
runs, and the audit trail of every decision and act."""
