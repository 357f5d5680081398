"""Verification and diagnosis: health probes, dependency/DNS/TLS checks, the findings they
yield and the catalog section that configures them.

Does not collect logs (``remediate.evidence``) or render the issue (``remediate.incident``)."""
