"""End to end: an alert for a service on two hosts gives an issue with both hosts' logs,
redacted and inert, while hosts that cannot be reached are recorded, not fatal."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert
from remediate.evidence.models import LogFailure
from remediate.incident.models import OutcomeStatus
from remediate.trackers import LocalTracker
from tests.github_standin import GitHubStandIn
from tests.markdown_render import assert_inert, render
from tests.secret_corpus import CUSTOM_PATTERNS, corpus, secret_fragments
from tests.support.processes import free_port
from tests.support.sshd import SSHServer

HOSTILE = [
    "$(id) `id` <img src=x onerror=alert(1)> @channel #42 www.example.com",
    "```",
    "</details>",
]


@pytest.fixture
def evidence_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> Iterator[Path]:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path


def ssh_host(sshd: SSHServer, name: str, port: int, **changes: Any) -> dict[str, Any]:
    data = {
        "name": name,
        "address": sshd.address,
        "port": port,
        "user": sshd.user,
        "known_hosts": str(sshd.known_hosts),
        "private_key": str(sshd.client_key),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def write_catalog(
    where: Path,
    hosts: list[dict[str, Any]],
    logs: list[dict[str, Any]],
    health: str,
    repository: dict[str, str] | None = None,
) -> None:
    service: dict[str, Any] = {
        "name": "api",
        "checks": ["S1-*"],
        "health": [{"url": health, "timeout_s": 1}],
        "hosts": hosts,
        "logs": logs,
    }
    if repository is not None:
        service["repository"] = repository
    catalog = {
        "services": [service],
        "policy": {"critical": {"propose_fix": False}},
        "verification": {"attempts": 1, "interval_s": 0},
        "evidence": {
            "limits": {"connect_timeout_s": 5, "command_timeout_s": 2},
            "redact": [{"name": name, "pattern": pattern} for name, pattern in CUSTOM_PATTERNS],
        },
    }
    (where / "catalog.yaml").write_text(yaml.safe_dump(catalog))


def make_alert(summary: str) -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": "S1-probes",
            "timestamp": "2026-11-27T15:00:00",
            "status": "fail",
            "message": summary,
            "details": {"api_token": "plain-token-value", "note": corpus()[0].text},
        }
    )


def artifacts_of(flow_run_id: str) -> list[dict[str, Any]]:
    api = os.environ["PREFECT_API_URL"]
    response = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
        timeout=10,
        trust_env=False,
    )
    response.raise_for_status()
    return list(response.json())


async def test_two_hosts_logs_reach_the_issue_redacted(
    evidence_env: Path, sshd: SSHServer, refused_url: str
) -> None:
    items = corpus()
    sshd.write_container_log("api-e2e", "\n".join([i.text for i in items] + HOSTILE) + "\n")
    sshd.write_unit_log("api.service", "unit line password=hunter2hunter2\n")
    hosts = [
        ssh_host(sshd, "web-1", sshd.ports[0]),
        ssh_host(sshd, "web-2", sshd.ports[1], known_hosts=None, host_key=sshd.host_public_key),
        ssh_host(sshd, "web-3", sshd.ports[0], private_key=str(sshd.stranger_key)),
        ssh_host(sshd, "web-4", free_port()),
        ssh_host(sshd, "web-5", sshd.ports[1], known_hosts=None, host_key=sshd.stranger_public_key),
    ]
    logs = [
        {"name": "app", "kind": "container", "container": "api-e2e", "lines": 500},
        {"name": "unit", "kind": "systemd", "unit": "api.service", "hosts": ["web-1"]},
        {"name": "stuck", "kind": "container", "container": "hang", "hosts": ["web-1"]},
        {"name": "flood", "kind": "container", "container": "huge", "hosts": ["web-2"]},
        {"name": "gone", "kind": "container", "container": "gone", "hosts": ["web-2"]},
    ]
    write_catalog(evidence_env, hosts, logs, refused_url)

    outcome = await remediate_alert(make_alert(f"HTTP 500 {items[3].text} @oncall"))

    assert outcome.status is OutcomeStatus.ISSUE_OPENED
    assert outcome.logs is not None
    got = [(r.host, r.source, r.failure) for r in outcome.logs.sources]
    assert got == [
        ("web-1", "app", None),
        ("web-1", "unit", None),
        ("web-1", "stuck", LogFailure.TIMEOUT),
        ("web-2", "app", None),
        ("web-2", "flood", None),
        ("web-2", "gone", None),
        ("web-3", "app", LogFailure.AUTH),
        ("web-4", "app", LogFailure.CONNECT),
        ("web-5", "app", LogFailure.HOST_KEY),
    ]
    by_source = {(r.host, r.source): r for r in outcome.logs.sources}
    assert by_source["web-2", "flood"].truncated
    assert by_source["web-2", "gone"].exit_status == 1
    [issue] = LocalTracker(evidence_env / "data" / "issues").issues()
    body = issue.body
    assert f"port={sshd.ports[0]} login" in body or f"port={sshd.ports[0]} " in body
    assert f"port={sshd.ports[1]} " in body
    assert "| web-3 | app | **auth** |" in body
    assert "| web-4 | app | **connect** |" in body
    assert "| web-5 | app | **host-key** |" in body
    assert "| web-1 | stuck | **timeout** |" in body
    assert "| web-2 | gone | **exit 1** |" in body
    assert "output truncated" in body
    assert len(issue.body) < 65_536
    assert "password=[REDACTED:password]" in body
    assert "[REDACTED:acme-licence]" in body
    assert "@\u200bchannel" in body and "@channel" not in body
    html = render(body)
    assert_inert(html, re.findall(r"\[Prefect flow run\]\(([^)]*)\)", body))
    assert html.count("<details>") == html.count("</details>") == 9
    assert "<h2>Links</h2>" in html

    assert outcome.flow_run_id is not None
    artifacts = artifacts_of(outcome.flow_run_id)
    report = next(a for a in artifacts if a["key"] == "incident-report")
    rendered_files = [
        p.read_text() for p in (evidence_env / "data" / "issues").iterdir() if p.is_file()
    ]
    outputs = [body, issue.title, report["data"], *rendered_files]
    for output in outputs:
        for item in items:
            for fragment in secret_fragments(item.secret):
                assert fragment not in output, (item.kind, fragment)
        assert "plain-token-value" not in output
        assert "hunter2hunter2" not in output


async def test_two_hosts_logs_reach_a_github_issue_without_violations(
    evidence_env: Path,
    sshd: SSHServer,
    refused_url: str,
    github_standin: GitHubStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = corpus()
    github_standin.add_repo("acme/api")
    monkeypatch.setenv("GITHUB_TOKEN", github_standin.token)
    sshd.write_container_log("api-gh", "\n".join([i.text for i in items] + HOSTILE) + "\n")
    hosts = [
        ssh_host(sshd, "web-1", sshd.ports[0]),
        ssh_host(sshd, "web-2", sshd.ports[1]),
    ]
    logs = [{"name": "app", "kind": "container", "container": "api-gh", "lines": 500}]
    repository = {"owner": "acme", "name": "api", "api_base_url": github_standin.base_url}
    write_catalog(evidence_env, hosts, logs, refused_url, repository)

    outcome = await remediate_alert(make_alert(f"HTTP 500 {items[5].text} @oncall"))

    assert outcome.status is OutcomeStatus.ISSUE_OPENED
    assert outcome.issue is not None and outcome.issue.tracker == "github"
    (issue,) = github_standin.issues("acme/api")
    body = issue.body or ""
    assert f"port={sshd.ports[0]} " in body and f"port={sshd.ports[1]} " in body
    html = render(body)
    assert_inert(html, re.findall(r"\[Prefect flow run\]\(([^)]*)\)", body))
    assert html.count("<details>") == html.count("</details>") == 2
    for output in (body, issue.title):
        for item in items:
            for fragment in secret_fragments(item.secret):
                assert fragment not in output, (item.kind, fragment)
        assert "plain-token-value" not in output
    assert github_standin.violations == []


async def test_recurrence_shows_occurrence_count_and_first_seen(
    evidence_env: Path, refused_url: str
) -> None:
    write_catalog(evidence_env, [], [], refused_url)

    def occurrence(minute: int) -> Alert:
        return Alert.from_sentinel(
            {
                "check_id": "S1-recurring",
                "timestamp": f"2026-11-27T16:{minute:02d}:00",
                "status": "fail",
                "message": "HTTP 500",
            }
        )

    first = await remediate_alert(occurrence(1))
    second = await remediate_alert(occurrence(7))
    assert first.issue is not None and second.issue is not None
    assert second.issue.number == first.issue.number
    issue = LocalTracker(evidence_env / "data" / "issues").get(first.issue.number)
    assert "| occurrences | 1 |" in issue.body
    [comment] = [c for c in issue.comments if c.body.startswith("Fired again")]
    assert "| occurrences | 2 |" in comment.body
    assert "| first seen | 2026-11-27T16:01:00+00:00 |" in comment.body
    assert "| last seen | 2026-11-27T16:07:00+00:00 |" in comment.body


async def test_private_key_from_a_prefect_secret_block(
    prefect_server: str, sshd: SSHServer
) -> None:
    from prefect.blocks.system import Secret

    from remediate.evidence.config import EvidenceConfig, LogSource, SSHHost
    from remediate.evidence.logs import collect_service_logs
    from remediate.redaction import Redactor

    await Secret(value=sshd.client_key.read_text()).save("evidence-test-ssh-key", overwrite=True)
    sshd.write_container_log("api-block", "from a block\n")
    hosts = [
        SSHHost.model_validate(
            ssh_host(sshd, "web-1", sshd.port, private_key=None,
                     private_key_block="evidence-test-ssh-key")
        ),
        SSHHost.model_validate(
            ssh_host(sshd, "web-2", sshd.port, private_key=None,
                     private_key_block="no-such-block")
        ),
    ]  # fmt: skip
    source = LogSource(name="app", kind="container", container="api-block")
    bundle = await collect_service_logs("api", hosts, [source], EvidenceConfig(), Redactor())
    found, missing = bundle.sources
    assert found.ok and found.lines[-1] == f"port={sshd.port} from a block"
    assert missing.failure is LogFailure.CREDENTIALS
    assert missing.error is not None and "no-such-block" in missing.error
    assert "PRIVATE KEY" not in (missing.error or "")
