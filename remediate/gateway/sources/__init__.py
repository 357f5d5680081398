"""Payloads of incident and monitoring products (PagerDuty, Sentry, Datadog, Opsgenie) as
``Alert``s, one module per product; every error names the offending field."""
