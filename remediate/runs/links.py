"""Links to a flow run in the Prefect UI where its decision is made.

The Prefect server serves two UIs: the current one under ``/v2`` (what ``/`` opens) and
the older one at the root. Every link the project prints opens the current UI's run page,
where the run's ⋮ menu holds Resume (the approval form) and the Artifacts tab holds the
``fix-diff`` artifact; ``tests/test_fix_ui.py`` approves and rejects there.
"""

from __future__ import annotations

UI_PREFIX = "/v2"


def flow_run_link(ui_base: str, flow_run_id: str) -> str:
    """The run's page in the current Prefect UI. ``ui_base`` is the server's root URL; one
    that already ends in ``/v2`` (a ``PREFECT_UI_URL`` set for Prefect's own links) is
    taken as the same place."""
    root = ui_base.rstrip("/").removesuffix(UI_PREFIX)
    return f"{root}{UI_PREFIX}/runs/flow-run/{flow_run_id}"
