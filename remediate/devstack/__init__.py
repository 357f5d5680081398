"""The local development stack behind ``make up``: Prefect server, runner, gateway and a
demo service as processes, their state in ``stack.json``, and development secrets.

Not used in production deployments."""
