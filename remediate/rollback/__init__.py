"""Deployment rollback: where releases are read from (SSH listing or GitHub Deployments),
strict parsing, the rollback window, the rollback action bound to a release, and its text.

The rollback runs as a runbook action through ``flows/stages/rollback.py``."""
