"""Links into the Prefect UI where a decision is made.

The Prefect server serves two UIs: the current one under ``/v2`` (what ``/`` opens) and
the older one at the root. Neither has an address that opens the Resume dialog: the
current UI's run route (``/runs/flow-run/$id``) accepts only a ``tab`` search parameter
(Logs, TaskRuns, SubflowRuns, Artifacts, Details, Parameters, JobVariables) and keeps the
dialog's open state in the page; the older UI's ``/flow-run/:flowRunId`` opens its modal
from a button only. So every link the project prints opens the current UI's run page,
where the ⋮ menu ("Open menu") holds Resume (the approval form). The form links the run's
``fix-diff`` artifact (``artifact_link``); ``tests/test_fix_ui.py`` decides there.
"""

from __future__ import annotations

UI_PREFIX = "/v2"


def _root(ui_base: str) -> str:
    """``ui_base`` is the server's root URL; one that already ends in ``/v2`` (a
    ``PREFECT_UI_URL`` set for Prefect's own links) is taken as the same place."""
    return ui_base.rstrip("/").removesuffix(UI_PREFIX)


def flow_run_link(ui_base: str, flow_run_id: str) -> str:
    """The run's page in the current Prefect UI."""
    return f"{_root(ui_base)}{UI_PREFIX}/runs/flow-run/{flow_run_id}"


def artifact_link(ui_base: str, artifact_id: str) -> str:
    """One artifact's page (this version of it, not every run's artifact of that key)."""
    return f"{_root(ui_base)}{UI_PREFIX}/artifacts/artifact/{artifact_id}"
