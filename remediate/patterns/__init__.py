"""Recurring, flapping, increasing and always self-resolving alerts found in run history."""
