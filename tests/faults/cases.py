"""Alerts and catalogs the fault cases share."""

from __future__ import annotations

from typing import Any

from remediate.alerts import Alert

OWNER = "acme"


def alert(check: str, minute: int) -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": check,
            "timestamp": f"2026-11-28T10:{minute:02d}:00",
            "status": "fail",
            "latency_ms": 3.1,
            "message": "Unexpected status: HTTP 500",
            "details": {},
        }
    )


def github_catalog(
    service: str, check: str, health_url: str, api_base_url: str, **policy: bool
) -> dict[str, Any]:
    """One service whose issues go to ``acme/<service>`` on the GitHub stand-in; verify
    and open the issue, nothing else unless ``policy`` turns it on."""
    steps = {
        "diagnose": False,
        "collect_logs": False,
        "investigate": False,
        "propose_fix": False,
        "run_actions": False,
        **policy,
    }
    return {
        "services": [
            {
                "name": service,
                "checks": [check],
                "health": [{"url": health_url, "timeout_s": 2}],
                "repository": {"owner": OWNER, "name": service, "api_base_url": api_base_url},
            }
        ],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {"critical": steps},
        "tracker": {"kind": "github"},
    }
