"""Daily remediation report: the plan's metrics as a table and a markdown artifact with charts."""

from __future__ import annotations

from datetime import timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.settings import get_current_settings

from remediate.reporting.metrics import RemediationReport
from remediate.reporting.period import build_report
from remediate.reporting.render import markdown, table_rows


@flow(name="remediation-report")
async def remediation_report(window_hours: float = 24.0) -> RemediationReport:
    api_url = get_current_settings().api.url
    if not api_url:
        raise RuntimeError("PREFECT_API_URL is not set; the report reads the server's history")
    report = await build_report(api_url, timedelta(hours=window_hours))
    await acreate_table_artifact(
        key="remediation-report-table",
        table=table_rows(report),
        description=f"remediation metrics, last {window_hours:g} h",
    )
    await acreate_markdown_artifact(
        key="remediation-report",
        markdown=markdown(report),
        description=f"remediation metrics and charts, last {window_hours:g} h",
    )
    get_run_logger().info(
        "report over %d remediation run(s)", int(report.figure("runs").value or 0)
    )
    return report
