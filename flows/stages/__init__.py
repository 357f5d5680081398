"""The stages of the remediation flow after the issue: fix, runbook action, rollback."""
