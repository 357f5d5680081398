"""The issue body rendered by cmark-gfm (GitHub's renderer): untrusted text stays inert."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remediate.alerts import Alert, Severity
from remediate.diagnosis.models import (
    CheckKind,
    DependencyCheck,
    Diagnosis,
    ProbeFailure,
    ProbeResult,
    ServiceHealth,
    Verdict,
    Verification,
)
from remediate.evidence.config import EvidenceConfig, LogSource, SSHHost
from remediate.evidence.logs import collect_service_logs
from remediate.evidence.models import LogBundle, LogFailure, LogSourceResult
from remediate.incident.models import Incident, Occurrences
from remediate.incident.text import (
    GITHUB_BODY_LIMIT,
    issue_body,
    issue_labels,
    issue_title,
    recurrence_comment,
)
from remediate.markdown import fenced, inline, plain
from remediate.redaction import Redactor
from tests.markdown_render import assert_inert as check_inert
from tests.markdown_render import code_blocks, render
from tests.secret_corpus import CUSTOM_PATTERNS, corpus, secret_fragments
from tests.support.sshd import SSHServer

RUN_URL = "http://127.0.0.1:4200/runs/flow-run/1234"
HOSTILE_LINES = [
    "plain start",
    "$(id) and `id` and ${HOME}",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "</details><details open><summary>fake</summary>",
    "@channel @here @octocat please look",
    "```",
    "````",
    "~~~",
    "see #123 and GH-45 and www.example.com and https://github.com/o/r/issues/1",
    "[click](https://evil.example) ![img](https://evil.example/x.png)",
    "<!-- hidden --> &#64;octocat",
    "plain end",
]


def assert_inert(html: str) -> None:
    check_inert(html, [RUN_URL])


def make_alert(**changes: Any) -> Alert:
    data: dict[str, Any] = {
        "id": "a-1",
        "source": "sentinel",
        "check_id": "S1-probes",
        "service": "api",
        "severity": Severity.CRITICAL,
        "summary": "HTTP 500 <b>bold</b> @oncall #7 www.status.example",
        "fired_at": datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
    }
    data.update(changes)
    return Alert.model_validate(data)


async def hostile_bundle(sshd: SSHServer) -> LogBundle:
    sshd.write_container_log("hostile", "\n".join(HOSTILE_LINES) + "\n")
    host = SSHHost(
        name="web-1",
        address=sshd.address,
        port=sshd.port,
        user=sshd.user,
        known_hosts=str(sshd.known_hosts),
        private_key=str(sshd.client_key),
    )
    source = LogSource(name="hostile", kind="container", container="hostile")
    return await collect_service_logs("api", [host], [source], EvidenceConfig(), Redactor())


async def test_hostile_log_lines_are_inert_in_the_issue(sshd: SSHServer) -> None:
    bundle = await hostile_bundle(sshd)
    assert bundle.sources[0].ok
    body = issue_body(Incident(alert=make_alert(), run_url=RUN_URL, logs=bundle))
    html = render(body)
    assert_inert(html)
    assert html.count("<details>") == 1 and html.count("</details>") == 1
    assert "<h2>Links</h2>" in html, "the log block swallowed what follows it"
    [block] = [b for b in code_blocks(html) if "plain start" in b]
    for line in ("plain start", "$(id) and `id`", "&lt;script&gt;", "```", "plain end"):
        assert line in block
    assert "&lt;/details&gt;&lt;details open&gt;" in block


def test_alert_text_is_inert_and_the_title_is_plain() -> None:
    alert = make_alert(labels={"team": "@platform <i>x</i>"})
    html = render(issue_body(Incident(alert=alert, run_url=RUN_URL)))
    assert_inert(html)
    title = issue_title(make_alert(summary="<b>@here</b> #12 broke\x1b[31m\u202e\n" + "x" * 300))
    assert len(title) <= 200
    assert "@\u200bhere" in title and "#\u200b12" in title
    assert "\x1b" not in title and "\u202e" not in title and "\n" not in title


def test_no_seeded_secret_reaches_body_comment_or_title() -> None:
    items = corpus()
    redactor = Redactor(CUSTOM_PATTERNS)
    lines = [line for item in items for line in item.text.splitlines()]
    results = [
        LogSourceResult(
            host="web-1",
            endpoint="ops@10.0.0.1:22",
            source="app",
            kind="file",
            command="tail -n 200 -- /var/log/app.log",
            exit_status=0,
            lines=[redactor("\n".join(lines))],
            stderr=redactor(items[0].text),
            duration_ms=1.0,
        )
    ]
    bundle = LogBundle(
        service="api", sources=results, collected_at=datetime.now(UTC), duration_ms=1.0
    )
    alert = make_alert(
        summary=" ".join(item.text for item in items[:6]),
        details={"env": items[7].text, "db_password": "plainvalue", "nested": [items[9].text]},
        labels={"note": items[11].text},
    )
    outputs = [
        issue_body(Incident(alert=alert, run_url=RUN_URL, logs=bundle), redactor),
        recurrence_comment(Incident(alert=alert, run_url=RUN_URL, logs=bundle), redactor),
        issue_title(alert, redactor),
    ]
    for output in outputs:
        for item in items:
            for fragment in secret_fragments(item.secret):
                assert fragment not in output, (item.kind, fragment)
        assert "plainvalue" not in output


def bundle_of(lines_per_source: int, sources: int, width: int = 100) -> LogBundle:
    results = [
        LogSourceResult(
            host=f"web-{i}",
            endpoint=f"ops@10.0.0.{i}:22",
            source="app",
            kind="container",
            command="docker logs --tail 5000 --since 60m app",
            exit_status=0,
            lines=[f"{n:06d} " + "x" * width for n in range(lines_per_source)],
            duration_ms=3.0,
        )
        for i in range(sources)
    ]
    return LogBundle(
        service="api", sources=results, collected_at=datetime.now(UTC), duration_ms=9.0
    )


def test_body_stays_under_github_limit_by_trimming_logs_first() -> None:
    bundle = bundle_of(lines_per_source=2_000, sources=3)
    body = issue_body(Incident(alert=make_alert(), run_url=RUN_URL, logs=bundle))
    assert len(body) < GITHUB_BODY_LIMIT
    assert "trimmed to the last" in body
    assert "001999 " in body, "the newest line is kept"
    assert "000000 " not in body, "the oldest lines go first"
    assert "S1-probes" in body and "## Links" in body
    comment = recurrence_comment(Incident(alert=make_alert(), run_url=RUN_URL, logs=bundle))
    assert len(comment) < GITHUB_BODY_LIMIT


def test_small_logs_are_not_trimmed() -> None:
    body = issue_body(Incident(alert=make_alert(), run_url=RUN_URL, logs=bundle_of(20, 2)))
    assert "trimmed" not in body
    assert "000000 " in body and "000019 " in body


def test_huge_alert_details_are_cut_after_logs() -> None:
    alert = make_alert(details={f"k{i}": "v" * 1_000 for i in range(100)})
    body = issue_body(Incident(alert=alert, run_url=RUN_URL, logs=bundle_of(10, 1)))
    assert len(body) < GITHUB_BODY_LIMIT
    assert "cut to 4000 characters" in body


def test_failures_and_exit_codes_are_listed() -> None:
    ok = bundle_of(2, 1).sources[0]
    failures = [
        ok.model_copy(update={"host": "web-2", "failure": LogFailure.HOST_KEY, "lines": [],
                              "exit_status": None, "error": "host key not trusted"}),
        ok.model_copy(update={"host": "web-3", "exit_status": 1, "stderr": "No such container"}),
    ]  # fmt: skip
    bundle = LogBundle(
        service="api", sources=[ok, *failures], collected_at=datetime.now(UTC), duration_ms=5
    )
    body = issue_body(Incident(alert=make_alert(), run_url=RUN_URL, logs=bundle))
    assert "3 log source(s) on 3 host(s), 2 failed" in body
    assert "| web-2 | app | **host-key** |" in body
    assert "| web-3 | app | **exit 1** |" in body
    assert "Error: host key not trusted" in body
    assert "No such container" in body


def test_occurrences_are_shown() -> None:
    seen = Occurrences(
        count=4,
        first_seen=datetime(2026, 11, 27, 9, tzinfo=UTC),
        last_seen=datetime(2026, 11, 27, 14, tzinfo=UTC),
    )
    body = issue_body(Incident(alert=make_alert(), occurrences=seen))
    assert "| occurrences | 4 |" in body
    assert "| first seen | 2026-11-27T09:00:00+00:00 |" in body
    assert "flapping" not in body


def test_a_flapping_run_says_so_with_transitions_and_window() -> None:
    seen = Occurrences(
        count=3,
        first_seen=datetime(2026, 11, 27, 9, tzinfo=UTC),
        last_seen=datetime(2026, 11, 27, 9, 10, tzinfo=UTC),
        flapping_transitions=5,
        flapping_window_s=900,
    )
    body = issue_body(Incident(alert=make_alert(), occurrences=seen))
    assert "| flapping | yes: 5 firing/resolved transitions within 900 s |" in body


@pytest.mark.parametrize("run", ["`", "``", "```", "`````````", "~~~~"])
def test_fence_is_longer_than_any_backtick_run(run: str) -> None:
    text = f"a\n{run}\nb {run} c\n{run}text\n"
    html = render(fenced(text) + "\n\nafter")
    assert html.endswith("<p>after</p>\n")
    assert len(code_blocks(html)) == 1


def test_inline_escapes_markup_and_breaks_links() -> None:
    html = render(inline("a | b <u>x</u> [l](http://e.x) *em* _u_ www.x.org GH-1 #2 @me"))
    assert "<u>" not in html and "<a " not in html and "<em>" not in html
    assert plain("ping @team about #5") == "ping @\u200bteam about #\u200b5"


KEY_MARKER_LINE = (
    '203.0.113.9 - - [29/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 12 "-"'
    ' "-----BEGIN RSA PRIVATE KEY-----"'
)
LINES_AFTER_MARKER = [
    "ERROR payment worker crashed: connection reset by db:5432",
    '198.51.100.4 - - "POST /api/orders HTTP/1.1" 500 0',
    "last line of evidence",
]


async def test_a_key_marker_in_the_logs_keeps_the_lines_after_it(sshd: SSHServer) -> None:
    from remediate.fixer.prompt import build_prompt, evidence_text

    sshd.write_container_log(
        "ua", "\n".join(["first line", KEY_MARKER_LINE, *LINES_AFTER_MARKER]) + "\n"
    )
    host = SSHHost(
        name="web-1",
        address=sshd.address,
        port=sshd.port,
        user=sshd.user,
        known_hosts=str(sshd.known_hosts),
        private_key=str(sshd.client_key),
    )
    source = LogSource(name="ua", kind="container", container="ua")
    bundle = await collect_service_logs("api", [host], [source], EvidenceConfig(), Redactor())
    assert bundle.sources[0].ok
    incident = Incident(alert=make_alert(), run_url=RUN_URL, logs=bundle)
    evidence = evidence_text(bundle)
    assert evidence is not None
    published = {
        "issue body": issue_body(incident),
        "recurrence comment": recurrence_comment(incident),
        "fix prompt": build_prompt(make_alert(), None, None, evidence),
    }
    for name, text in published.items():
        for line in LINES_AFTER_MARKER:
            assert inline(line) in text or line in text, (name, line)
        assert "[REDACTED:private-key]" in text and "BEGIN RSA" not in text, name
    assert "## Links" in published["issue body"]


def _verification() -> Verification:
    probe = ProbeResult(
        service="api",
        endpoint="health",
        url="http://api/health",
        healthy=False,
        status_code=503,
        expected_status=200,
        latency_ms=12,
        failure=ProbeFailure.HTTP_STATUS,
        error="upstream https://probe:pr0bepassw0rd@auth.internal said 503",
        checked_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
    )
    return Verification(verdict=Verdict.CONFIRMED, reason="still failing", attempts=[[probe]])


def _diagnosis() -> Diagnosis:
    check = DependencyCheck(
        service="api",
        kind=CheckKind.TCP,
        name="db",
        target="postgres://app:dbpassw0rdvalue@db.internal:5432/app",
        ok=False,
        error="connection refused",
        checked_at=datetime(2026, 11, 27, 14, 0, tzinfo=UTC),
    )
    probe = _verification().attempts[0][0]
    return Diagnosis(services=[ServiceHealth(service="api", healthy=False, probes=[probe])],
                     checks=[check])  # fmt: skip


def test_a_key_marker_in_the_check_id_leaves_every_section_intact() -> None:
    alert = make_alert(check_id="probe -----BEGIN RSA PRIVATE KEY----- x", labels={"team": "web"})
    incident = Incident(
        alert=alert,
        run_url=RUN_URL,
        verification=_verification(),
        diagnosis=_diagnosis(),
        logs=bundle_of(3, 1),
    )
    for text in (issue_body(incident), recurrence_comment(incident)):
        for section in ("## Alert", "## Verification", "## Diagnosis", "## Logs", "## Links"):
            assert section in text, section
        for content in ("still failing", "| label team | web |", "connection refused", "000002 "):
            assert content in text, content
        assert "BEGIN RSA" not in text and "probe \\[REDACTED:private-key\\] x" in text
    assert "BEGIN RSA" not in issue_title(alert)
    assert not any("BEGIN RSA" in label for label in issue_labels(alert))


def test_every_field_is_redacted_before_it_is_escaped() -> None:
    token = "A1b2C3d4" * 5
    alert = make_alert(
        check_id=f"deploy-ghp_{token}",
        source=f"mon ghp_{token}",
        labels={f"ghp_{token}": "label under a secret key"},
        details={f"ghp_{token}": "details under a secret key", "db": {"password": 1234567}},
    )
    incident = Incident(
        alert=alert, run_url=RUN_URL, verification=_verification(), diagnosis=_diagnosis()
    )
    published = [
        issue_body(incident),
        recurrence_comment(incident),
        issue_title(alert),
        *issue_labels(alert),
    ]
    for text in published:
        for secret in (token, "pr0bepassw0rd", "dbpassw0rdvalue", "1234567"):
            assert secret not in text, (secret, text)
    body = published[0]
    assert "label under a secret key" in body and "details under a secret key" in body
    assert "app:\\[REDACTED:url-credentials\\]@" in body
