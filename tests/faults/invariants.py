"""The invariants every fault case checks after the fault, in one place.

1. Every accepted alert has exactly one remediation run, and that run reached a final state
   (Completed, Failed, Cancelled) or is visibly waiting (Paused/Suspended for an approval,
   Scheduled for a retry). A Crashed run counts only when it is tagged
   ``crashed-needs-attention`` (the recovery flow gave up on it and said so).
2. No issue, comment, pull request or model session was created twice: one issue per
   fingerprint (label on GitHub), each signed occurrence marker once across issue bodies
   and comments (each comment key once on a local issue), one pull request per head
   branch, at most ``sessions_per_alert`` model sessions per alert. (No case here runs a
   runbook action; a doubled action would show as two runs or a second action marker,
   which the cases that run actions check themselves.)
3. Nothing was done without an approval that allowed it: a run with a published fix carries
   ``approval:approved``; a run whose runbook action ran carries ``action-approval:approved``
   unless the action is unattended.

``check`` returns the list of violations (empty when all hold) with the figures the report
table needs, so a case asserts ``report.violations == []`` and logs ``report.figures``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from remediate.runs.tags import Flag, Key, tag, tag_value
from remediate.trackers import LocalTracker
from tests.github_standin import GitHubStandIn
from tests.support.model_server import ModelServer

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
WAITING = {"PAUSED", "SCHEDULED"}
MARKER = re.compile(r"<!-- remediate:(?P<kind>[a-z]+)=(?P<value>[^ ]+) sig=")
ACTION_RAN = {"succeeded", "failed-undone", "failed-undo-failed", "failed-no-undo"}


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: int = 0
    doubled: int = 0
    lost: int = 0

    def figures(self) -> str:
        states = Counter(run["state_type"] for run in self.runs.values())
        return (
            f"alerts={len(self.runs)} states={dict(states)} issues={self.issues}"
            f" lost={self.lost} doubled={self.doubled}"
        )


def runs_of(api: str, alert_id: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flow_runs": {"tags": {"all_": [tag(Key.ALERT, alert_id)]}}, "limit": 50},
        trust_env=False,
        timeout=30,
    )
    response.raise_for_status()
    runs: list[dict[str, Any]] = [
        r for r in response.json() if Flag.REMEDIATE.value in r.get("tags", [])
    ]
    return runs


def _settled(run: dict[str, Any]) -> bool:
    state = run["state_type"]
    if state in FINAL:
        return True
    if state == "PAUSED":
        return True
    if state == "SCHEDULED":
        return (run.get("state_name") or "") in {"AwaitingRetry", "Scheduled"}
    return state == "CRASHED" and Flag.CRASHED_NEEDS_ATTENTION.value in run["tags"]


def _check_runs(api: str, alert_ids: list[str], report: Report) -> None:
    for alert_id in alert_ids:
        runs = runs_of(api, alert_id)
        if not runs:
            report.lost += 1
            report.violations.append(f"alert {alert_id}: no run")
            continue
        if len(runs) > 1:
            report.doubled += len(runs) - 1
            report.violations.append(f"alert {alert_id}: {len(runs)} runs")
        run = runs[0]
        report.runs[alert_id] = run
        if not _settled(run):
            report.lost += 1
            report.violations.append(
                f"alert {alert_id}: run {run['id']} left {run['state_type']}"
                f" ({run.get('state_name')}): {(run.get('state') or {}).get('message')}"
            )


def _check_approvals(run: dict[str, Any], report: Report, unattended: frozenset[str]) -> None:
    tags = run["tags"]
    if tag_value(tags, Key.PUBLISH) == "published" and tag_value(tags, Key.APPROVAL) != "approved":
        report.violations.append(f"run {run['id']}: fix published without approval")
    action = tag_value(tags, Key.ACTION)
    if (
        tag_value(tags, Key.ACTION_STATUS) in ACTION_RAN
        and tag_value(tags, Key.ACTION_APPROVAL) != "approved"
        and action not in unattended
    ):
        report.violations.append(f"run {run['id']}: action {action} ran without approval")


def _check_github(standin: GitHubStandIn, repo: str, report: Report) -> None:
    issues = standin.issues(repo)
    report.issues = len(issues)
    labels = Counter(
        label for issue in issues for label in issue.labels if label.startswith("remediate-fp:")
    )
    owner = standin.state.token_owner
    texts = [issue.body or "" for issue in issues if issue.author == owner]
    texts += [c.body for issue in issues for c in issue.comments if c.author == owner]
    markers = Counter((m["kind"], m["value"]) for text in texts for m in MARKER.finditer(text))
    heads = Counter(pull.pull.head_ref for pull in standin.pulls(repo) if pull.pull)
    for what, counts in (("issue label", labels), ("marker", markers), ("pull head", heads)):
        for name, count in counts.items():
            if count > 1 and not (what == "marker" and name[0] == "fingerprint"):
                report.doubled += count - 1
                report.violations.append(f"{what} {name} written {count} times")


def _check_local(root: Path, report: Report) -> None:
    issues = LocalTracker(root).issues()
    report.issues = len(issues)
    fingerprints = Counter(issue.fingerprint for issue in issues)
    keys = Counter(c.key for issue in issues for c in issue.comments)
    for what, counts in (("issue for fingerprint", fingerprints), ("comment key", keys)):
        for name, count in counts.items():
            if count > 1:
                report.doubled += count - 1
                report.violations.append(f"{what} {name} written {count} times")


def sessions(model: ModelServer) -> Counter[str]:
    """Completion requests per model session, by the session id the CLI sends with each
    (``x-claude-code-session-id``; a request without one is counted as its own session)."""
    found: Counter[str] = Counter()
    for number, (request, headers) in enumerate(zip(model.requests, model.headers, strict=True)):
        if "messages" not in request or request.get("max_tokens", 2) <= 1:
            continue
        found[headers.get("x-claude-code-session-id") or f"request-{number}"] += 1
    return found


def check(
    api: str,
    alert_ids: list[str],
    *,
    standin: GitHubStandIn | None = None,
    repo: str | None = None,
    local_issues: Path | None = None,
    model: ModelServer | None = None,
    sessions_per_alert: int = 1,
    unattended_actions: frozenset[str] = frozenset(),
) -> Report:
    report = Report()
    _check_runs(api, alert_ids, report)
    for run in report.runs.values():
        _check_approvals(run, report, unattended_actions)
    if standin is not None and repo is not None:
        _check_github(standin, repo, report)
        report.violations += [f"stand-in: {v}" for v in standin.violations]
    if local_issues is not None:
        _check_local(local_issues, report)
    if model is not None:
        count = len(sessions(model))
        allowed = sessions_per_alert * len(alert_ids)
        if count > allowed:
            report.doubled += count - allowed
            report.violations.append(f"{count} model sessions for {len(alert_ids)} alerts")
    return report
