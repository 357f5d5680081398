"""Tags put on every remediation run so that history can be queried by alert identity."""

from __future__ import annotations

from remediate.alerts import Alert

DEPLOYMENT = "remediate-alert/remediate-alert"
FLAPPING_TRANSITIONS_TAG = "flapping-transitions"
FLAPPING_WINDOW_TAG = "flapping-window-s"
RESOLVED_TAG = "alert-resolved"


def run_tags(alert: Alert) -> list[str]:
    tags = [
        "remediate",
        f"alert:{alert.id}",
        f"check:{alert.check_id}",
        f"severity:{alert.severity.value}",
        f"fingerprint:{alert.fingerprint}",
    ]
    if alert.service:
        tags.append(f"service:{alert.service}")
    return tags


def tag_value(tags: list[str], prefix: str) -> str | None:
    return next((t.split(":", 1)[1] for t in tags if t.startswith(prefix + ":")), None)
