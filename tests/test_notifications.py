"""Notifications: every channel's text escaped for its markup, mentions defused, secrets
redacted, failures reported not raised; real HTTP to stand-ins on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from remediate.alerts import Alert, Severity
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, FixStatus, Risk
from remediate.notifications import escape, events
from remediate.notifications.config import Channel, Event, NotificationsConfig
from remediate.notifications.render import APPROVE_ACTION, REJECT_ACTION
from remediate.notifications.send import discord_block, mattermost_block, send
from remediate.redaction import default_redactor
from remediate.trackers.models import IssueAction, IssueRef
from tests.support.processes import free_port
from tests.support.webhook_sink import WebhookSink

RUN_ID = "0b7c3c52-52a5-4d4a-9d43-1f0f1c1d2e3f"
HOSTILE = "<!channel> @here *bold* [x](http://evil) <@U123> & `code` {{body}} @everyone"
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
ALERT = Alert(
    id="a-1",
    source="test",
    check_id="disk-<full>",
    service="shop",
    severity=Severity.CRITICAL,
    summary=f"{HOSTILE} token={SECRET}",
    fired_at=datetime(2026, 1, 1, tzinfo=UTC),
)
PROPOSAL = FixProposal(
    status=FixStatus.PROPOSED,
    summary=f"raise the timeout {HOSTILE} password={SECRET}",
    risk=Risk.LOW,
    files_changed=["app.py"],
    branch="remediate/a-1",
    diff="--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-T = 1\n+T = 5\n",
)
ISSUE = IssueRef(
    tracker="github",
    number=7,
    url="https://github.com/acme/shop/issues/7",
    action=IssueAction.OPENED,
)


def waiting() -> events.Notice:
    return events.approval_requested(
        ALERT, PROPOSAL, RUN_ID, f"http://ui/v2/runs/flow-run/{RUN_ID}", ISSUE, "fix-approval"
    )


def no_live_mention(text: str) -> None:
    for mention in ("@here", "@everyone", "@channel", "<!channel>", "<@U123>"):
        assert mention not in text, mention


async def test_slack_gets_block_kit_with_buttons_and_inert_text(
    webhook_sink: WebhookSink,
) -> None:
    channel = Channel(kind="slack", url=webhook_sink.url("/slack"))
    [delivery] = await send([channel], waiting(), default_redactor())
    assert delivery.ok, delivery
    [message] = webhook_sink.bodies("/slack")
    everything = json.dumps(message, ensure_ascii=False)
    no_live_mention(everything)
    assert SECRET not in everything and "[REDACTED" in everything
    assert "&lt;\u200b!channel&gt;" in message["text"]
    mrkdwn = [b["text"] for b in message["blocks"] if b.get("text", {}).get("type") == "mrkdwn"]
    assert all("<!" not in t["text"] for t in mrkdwn)
    summary = message["blocks"][1]["text"]
    assert summary["type"] == "plain_text" and "*bold*" in summary["text"]
    fields = message["blocks"][2]["fields"]
    assert {f["type"] for f in fields} == {"plain_text"}
    assert any(f["text"] == "Check: disk-<full>" for f in fields)
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    approve, reject = actions["elements"]
    assert (approve["action_id"], reject["action_id"]) == (APPROVE_ACTION, REJECT_ACTION)
    assert json.loads(approve["value"]) == {
        "run_id": RUN_ID,
        "key": "fix-approval",
        "diff_sha256": diff_sha256(PROPOSAL.diff),
    }
    links = message["blocks"][3]["elements"][0]["text"]
    assert f"<http://ui/v2/runs/flow-run/{RUN_ID}|run>" in links
    assert "<https://github.com/acme/shop/issues/7|issue #7>" in links


async def test_telegram_gets_escaped_html_from_a_configurable_base_url(
    webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATE_TEST_TELEGRAM_TOKEN", "123456:bot-token")
    channel = Channel(
        kind="telegram",
        token_env="REMEDIATE_TEST_TELEGRAM_TOKEN",
        chat_id="-1001234",
        api_url=webhook_sink.url("/tg"),
    )
    [delivery] = await send([channel], waiting(), default_redactor())
    assert delivery.ok, delivery
    [(path, body)] = webhook_sink.received
    assert path == "/tg/bot123456:bot-token/sendMessage"
    assert body["chat_id"] == "-1001234" and body["parse_mode"] == "HTML"
    text = body["text"]
    no_live_mention(text)
    assert SECRET not in text
    assert (
        "&lt;\u200b!channel&gt;" in text and "&lt;\u200b@\u200bU123&gt;" in text and "&amp;" in text
    )
    assert "<b>Fix waiting for approval</b>" in text
    assert "<b>Check:</b> disk-&lt;full&gt;" in text
    assert f'<a href="http://ui/v2/runs/flow-run/{RUN_ID}">run</a>' in text
    assert f"remediate approve {RUN_ID} --diff-sha256" in text


async def test_mattermost_and_webhook_blocks_get_escaped_text(
    webhook_sink: WebhookSink,
) -> None:
    channels = [
        Channel(kind="mattermost", url=webhook_sink.url("/hooks/mm-token")),
        Channel(kind="webhook", url=webhook_sink.url("/generic")),
    ]
    deliveries = await send(channels, waiting(), default_redactor())
    assert [d.ok for d in deliveries] == [True, True], deliveries
    [mattermost] = webhook_sink.bodies("/hooks/mm-token")
    text = mattermost["text"]
    no_live_mention(text)
    assert SECRET not in text
    assert (
        "\\*bold\\*" in text
        and "\\[x\\]\\(http://evil\\)" in text
        and "\\<\u200b@\u200bU123" in text
    )
    assert text.startswith("**Fix waiting for approval**")
    [generic] = webhook_sink.bodies("/generic")
    assert generic["event"] == "approval-requested"
    assert generic["decision"]["run_id"] == RUN_ID
    assert "{{body}}" not in json.dumps(generic) and "{\u200b{body}}" in generic["summary"]
    no_live_mention(json.dumps(generic, ensure_ascii=False))
    assert generic["facts"]["Check"] == "disk-<full>"


async def test_a_failing_channel_is_reported_and_never_raised(
    webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMEDIATE_TEST_UNSET", raising=False)
    monkeypatch.setenv("REMEDIATE_TEST_TELEGRAM_TOKEN", "123456:bot-token")
    webhook_sink.status = 500
    dead = f"http://127.0.0.1:{free_port()}"
    channels = [
        Channel(kind="slack", url_env="REMEDIATE_TEST_UNSET"),
        Channel(kind="slack", url=f"{dead}/x"),
        Channel(kind="slack", url=webhook_sink.url("/slack")),
        Channel(
            kind="telegram",
            token_env="REMEDIATE_TEST_TELEGRAM_TOKEN",
            chat_id="42",
            api_url=f"{dead}/",
        ),
        Channel(kind="telegram", token_env="REMEDIATE_TEST_UNSET", chat_id="42"),
        Channel(kind="mattermost", url=webhook_sink.url("/hooks/t")),
        Channel(kind="webhook", url=webhook_sink.url("/generic")),
        Channel(kind="mattermost", url=webhook_sink.url("/no-hooks-here")),
    ]
    deliveries = await send(channels, waiting(), default_redactor())
    assert [(d.ok, d.detail) for d in deliveries] == [
        (False, "REMEDIATE_TEST_UNSET is not set"),
        (False, "ConnectError"),
        (False, "HTTP 500"),
        (False, "ConnectError"),
        (False, "REMEDIATE_TEST_UNSET is not set"),
        (False, "NotificationError"),
        (False, "HTTPStatusError"),
        (False, "the Mattermost URL is not <server>/hooks/<token>"),
    ]
    assert all("bot-token" not in d.detail and "bot-token" not in d.channel for d in deliveries)


def test_discord_and_teams_urls_become_prefect_blocks() -> None:
    block = discord_block("https://discord.com/api/webhooks/1234/tok-en")
    assert block.webhook_id.get_secret_value() == "1234"
    assert block.webhook_token.get_secret_value() == "tok-en"
    mattermost = mattermost_block("https://chat.example.com/mm/hooks/abc")
    assert (mattermost.hostname, mattermost.port, mattermost.secure) == (
        "chat.example.com",
        443,
        True,
    )
    assert mattermost.path == "/mm" and mattermost.token.get_secret_value() == "abc"


def test_escaping_per_markup() -> None:
    assert escape.slack("a <b> & @here") == "a &lt;b&gt; &amp; @\u200bhere"
    assert escape.telegram_html('<a href="x">@all</a>') == (
        "&lt;a href=&quot;x&quot;&gt;@\u200ball&lt;/a&gt;"
    )
    assert escape.chat_markdown("# *x* <@1>") == "\\# \\*x\\* \\<\u200b@\u200b1\\>"
    assert escape.plain("a\x1b[31mred\u202e @user") == "ared @\u200buser"


def test_channels_need_their_fields_and_hear_their_events() -> None:
    with pytest.raises(ValidationError, match="telegram: give token_env and chat_id"):
        Channel(kind="telegram", token_env="T")
    with pytest.raises(ValidationError, match="slack: give exactly one of url or url_env"):
        Channel(kind="slack")
    with pytest.raises(ValidationError, match="block: give the saved block"):
        Channel(kind="block")
    config = NotificationsConfig(
        channels=[
            Channel(kind="slack", url_env="A", events=[Event.APPROVAL_REQUESTED]),
            Channel(kind="webhook", url_env="B"),
        ]
    )
    assert [c.kind for c in config.hearing(Event.APPROVAL_REQUESTED)] == ["slack", "webhook"]
    assert [c.kind for c in config.hearing(Event.ISSUE_OPENED)] == ["webhook"]


def self_signed_localhost(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_teams_block_posts_escaped_text_to_a_workflow_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's Teams block (Apprise's Power Automate workflow plugin) posts over HTTPS to
    the workflow URL's host: here a TLS stand-in on 127.0.0.1 with its own certificate."""
    cert_path, key_path = self_signed_localhost(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    received: list[tuple[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            received.append((self.path, json.loads(self.rfile.read(length))))
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = (
            f"https://127.0.0.1:{server.server_port}/workflows/wf123/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sig-value"
        )
        [delivery] = await send([Channel(kind="teams", url=url)], waiting(), default_redactor())
    finally:
        server.shutdown()
        server.server_close()
    assert delivery.ok, delivery
    [(path, body)] = received
    assert path.startswith("/workflows/wf123/triggers/manual/paths/invoke?")
    text = json.dumps(body, ensure_ascii=False)
    assert "Fix waiting for approval" in text
    assert SECRET not in text
    no_live_mention(text)
    assert "\\\\*bold\\\\*" in text
