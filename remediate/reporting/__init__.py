"""How well remediation works, measured from its own history on the Prefect server."""
