"""remediate: alerts in, verified and diagnosed remediation runs out."""

__version__ = "0.1.0"
