"""The intake gateway: authenticated HTTP endpoints that record alerts durably and start runs."""
