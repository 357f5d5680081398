"""Redaction: every seeded secret becomes a typed marker; ordinary text is left alone."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remediate.alerts import Alert, Severity
from remediate.redaction import Redactor, redact_alert
from remediate.redaction.private_keys import MAX_KEY_LINES
from tests.secret_corpus import CUSTOM_PATTERNS, corpus, secret_fragments

REDACTOR = Redactor(CUSTOM_PATTERNS)


@pytest.mark.parametrize("item", corpus(), ids=lambda i: i.kind)
def test_no_seeded_secret_survives(item: object) -> None:
    from tests.secret_corpus import Seeded

    assert isinstance(item, Seeded)
    out = REDACTOR(item.text)
    for fragment in secret_fragments(item.secret):
        assert fragment not in out, out
    assert "[REDACTED:" in out


def test_markers_name_the_kind() -> None:
    assert REDACTOR("x ghp_" + "a" * 36) == "x [REDACTED:github-token]"
    assert REDACTOR("AKIAABCDEFGHIJKLMNOP") == "[REDACTED:aws-access-key]"
    assert REDACTOR("Bearer abc123def456") == "Bearer [REDACTED:bearer-token]"
    assert REDACTOR("password=hunter22 ok") == "password=[REDACTED:password] ok"
    assert REDACTOR('{"api_token": "abc"}') == '{"api_token": "[REDACTED:token]"}'
    assert REDACTOR("client_secret: s3cr3t") == "client_secret: [REDACTED:secret]"
    assert REDACTOR("https://u:p4ss@h/x") == "https://u:[REDACTED:url-credentials]@h/x"
    assert REDACTOR("licence ACME-ABCDEFGHIJKLMNOPQRST") == "licence [REDACTED:acme-licence]"


def test_markers_are_not_redacted_again() -> None:
    once = REDACTOR("token=ghp_" + "b" * 36)
    assert once == "token=[REDACTED:github-token]"
    assert REDACTOR(once) == once


def test_a_private_key_cut_in_half_still_hides_its_body() -> None:
    tail = (
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\nWVphYmNkZWZnaGlqa2xtbm9w\n"
        "-----END PRIVATE KEY-----\nafter"
    )
    out = REDACTOR(tail)
    assert "QUJDREVG" not in out and "WVphYmNk" not in out
    assert out.endswith("after")


def test_an_unterminated_private_key_hides_the_base64_lines_that_follow() -> None:
    out = REDACTOR("before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAB==")
    assert out == "before\n[REDACTED:private-key]"


@pytest.mark.parametrize(
    "text",
    [
        "GET /health 200 in 12 ms",
        "connection refused by db:5432",
        "fingerprint 3f2a9c0d1e4b5a6f7081928374655647",
        "https://example.org/path?q=1",
        "user logged in as alice@example.org",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert REDACTOR(text) == text


def test_values_inside_json_like_data() -> None:
    data = {
        "message": "auth with Bearer abc123def456",
        "db_password": "plain",
        "nested": [{"apiKey": "k-123"}, "ghp_" + "c" * 36],
        "token_count": 5,
    }
    assert REDACTOR.value(data) == {
        "message": "auth with Bearer [REDACTED:bearer-token]",
        "db_password": "[REDACTED:password]",
        "nested": [{"apiKey": "[REDACTED:secret]"}, "[REDACTED:github-token]"],
        "token_count": 5,
    }


AFTER_LINES = '10.0.0.7 - - "GET /health HTTP/1.1" 200 2\nERROR db timeout after 30 s\nok'


@pytest.mark.parametrize(
    "marker_line",
    [
        '1.2.3.4 - - "GET / HTTP/1.1" 200 12 "-" "-----BEGIN RSA PRIVATE KEY-----"',
        "User-Agent: -----BEGIN OPENSSH PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY----- trailing words here",
        '"-----END RSA PRIVATE KEY-----" 404',
    ],
)
def test_a_lone_key_marker_hides_only_itself(marker_line: str) -> None:
    out = REDACTOR(f"first\n{marker_line}\n{AFTER_LINES}")
    assert out.endswith(f"\n{AFTER_LINES}"), out
    assert out.startswith("first\n")
    assert "[REDACTED:private-key]" in out and "PRIVATE KEY" not in out


def test_a_lone_begin_hides_the_key_lines_after_it_and_nothing_more() -> None:
    key_lines = "MIIEowIBAAKCAQEAvXyz0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ\nQUJDREVGR0g=\n"
    out = REDACTOR(f"dump:\n-----BEGIN RSA PRIVATE KEY-----\n{key_lines}{AFTER_LINES}")
    assert out == f"dump:\n[REDACTED:private-key]\n{AFTER_LINES}"


def test_a_begin_and_an_end_around_log_lines_hide_only_the_markers() -> None:
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{AFTER_LINES}\n-----END RSA PRIVATE KEY-----\nz"
    out = REDACTOR(text)
    assert out == f"[REDACTED:private-key]\n{AFTER_LINES}\n[REDACTED:private-key]\nz"


def test_key_material_after_a_lone_begin_is_bounded() -> None:
    lines = ["QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" for _ in range(MAX_KEY_LINES + 500)]
    out = REDACTOR("-----BEGIN PRIVATE KEY-----\n" + "\n".join(lines) + "\nafter")
    assert out.endswith("QUJDREVGR0hJSktMTU5PUFFSU1RVVldY\nafter")
    assert out.count("QUJDREVG") == 500


@pytest.mark.parametrize(
    "block",
    [
        "-----BEGIN RSA PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nab==\\n"
        "-----END RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC ab== "
        "-----END PRIVATE KEY-----",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
        "lQOYBF0123456789abcdefghijklmnopqrstuvwxyz\nAB12\n=abcd\n"
        "-----END PGP PRIVATE KEY BLOCK-----",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2"
        "\n\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_whole_key_blocks_in_every_layout_are_hidden(block: str) -> None:
    assert REDACTOR(f'{{"key": "{block}", "next": 1}}\nafter') == (
        '{"key": "[REDACTED:private-key]", "next": 1}\nafter'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('password="a b\\"c" user=bob', 'password="[REDACTED:password]" user=bob'),
        ('{"password": 12345}', '{"password": [REDACTED:password]}'),
        ("mysql -u root -pS3cret! -h db", "mysql -u root -p[REDACTED:password] -h db"),
        ("mysqldump --password=hunter2 db", "mysqldump --password=[REDACTED:password] db"),
        ("login --password hunter2 --user bob", "login --password [REDACTED:password] --user bob"),
        ("redis-cli -a s3cret ping", "redis-cli -a [REDACTED:password] ping"),
        ("https://u:p@ss@host/x", "https://u:[REDACTED:url-credentials]@host/x"),
        (
            "next=%2Fa%3Fpassword%3Dhunter2%26b%3D1",
            "next=%2Fa%3Fpassword%3D[REDACTED:password]%26b%3D1",
        ),
        ("form user=a&password=p%26ss%3D&x=1", "form user=a&password=[REDACTED:password]&x=1"),
        (
            "Cookie: sid=abc123; theme=dark",
            "Cookie: sid=[REDACTED:cookie]; theme=[REDACTED:cookie]",
        ),
        (
            "Set-Cookie: sid=abc123; Path=/; HttpOnly",
            "Set-Cookie: sid=[REDACTED:cookie]; Path=/; HttpOnly",
        ),
        ("Authorization: Token 9944b0919", "Authorization: Token [REDACTED:authorization]"),
        (
            "AccountKey=abc+def/ghi==;EndpointSuffix=x",
            "AccountKey=[REDACTED:secret];EndpointSuffix=x",
        ),
        (
            "/c/b?sv=2022-11-02&sig=abc%2Bdef%3D&sp=r",
            "/c/b?sv=2022-11-02&sig=[REDACTED:secret]&sp=r",
        ),
        ("<password>abc</password>", "<password>[REDACTED:password]</password>"),
        ("X-Api-Key: k-123", "X-Api-Key: [REDACTED:secret]"),
        ("key AIza" + "B" * 35, "key [REDACTED:google-api-key]"),
        ("sk-ant-api03-" + "c" * 40, "[REDACTED:anthropic-key]"),
        (
            "sk_live_" + "d" * 24 + " rk_live_" + "e" * 24,
            "[REDACTED:stripe-key] [REDACTED:stripe-key]",
        ),
        ("glpat-" + "f" * 20, "[REDACTED:gitlab-token]"),
        ("npm_" + "g" * 36, "[REDACTED:npm-token]"),
    ],
)
def test_named_and_shaped_secrets(text: str, expected: str) -> None:
    assert REDACTOR(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "UPDATE users SET password = $1 WHERE id = $2",
        "token_count=5 max_tokens=1024 password_changed_at=2026-10-01 secret_name=db",
        "HTTP Basic authentication failed; Bearer authentication required",
        "at com.acme.TokenService.refresh(TokenService.java:174)",
        'volume "secret-volume" : secret "app-secrets" not found',
        '"database": {"password": "${DB_PASSWORD}", "token": null}',
    ],
)
def test_words_about_secrets_are_not_secrets(text: str) -> None:
    assert REDACTOR(text) == text


def test_data_keys_are_redacted_and_secret_keys_hide_any_value() -> None:
    data = {
        "ghp_" + "a" * 36: "label under a token key",
        "password": 12345,
        "credentials": {"user": "bob", "port": 5432, "tls": True},
        "secrets": ["one", 2],
        "token_count": 5,
    }
    assert REDACTOR.value(data) == {
        "[REDACTED:github-token]": "label under a token key",
        "password": "[REDACTED:password]",
        "credentials": {"user": "[REDACTED:secret]", "port": "[REDACTED:secret]", "tls": True},
        "secrets": ["[REDACTED:secret]", "[REDACTED:secret]"],
        "token_count": 5,
    }


def test_alert_label_keys_are_redacted() -> None:
    alert = Alert(
        id="a-1",
        source="s",
        check_id="c",
        severity=Severity.WARNING,
        summary="x",
        labels={"ghp_" + "b" * 36: "v", "team": "password=hunter2"},
        fired_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert redact_alert(alert, REDACTOR).labels == {
        "[REDACTED:github-token]": "v",
        "team": "password=[REDACTED:password]",
    }


MARKED = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
CORPUS = Path(__file__).parent / "data" / "redaction"


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CORPUS / name).read_text().splitlines()]


def _expected(line: str, secrets: list[str]) -> re.Pattern[str]:
    """The line with each secret (in order) replaced by any marker, the rest exactly kept."""
    parts, rest = [], line
    for secret in secrets:
        before, found, rest = rest.partition(secret)
        assert found, f"corpus error: {secret!r} not in {line!r}"
        parts.append(before)
    parts.append(rest)
    return re.compile(MARKED.pattern.join(re.escape(p) for p in parts), re.DOTALL)


def test_secret_corpus_every_secret_is_hidden_and_nothing_else_changes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = _jsonl("secret-lines.jsonl")
    leaked, damaged = [], []
    for item in items:
        secrets = [item["secret"]] if isinstance(item["secret"], str) else item["secret"]
        out = REDACTOR(item["line"])
        if any(secret in out for secret in secrets):
            leaked.append(out)
        elif not _expected(item["line"], secrets).fullmatch(out):
            damaged.append(out)
    with capsys.disabled():
        print(f"\nsecret corpus: {len(items)} lines, {len(leaked)} leaked, {len(damaged)} damaged")
    assert len(items) >= 200
    assert leaked == [] and damaged == []


def test_ordinary_corpus_is_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [item["line"] for item in _jsonl("ordinary-lines.jsonl")]
    damaged = [(line, out) for line in lines if (out := REDACTOR(line)) != line]
    with capsys.disabled():
        print(f"\nordinary corpus: {len(lines)} lines, {len(damaged)} changed")
    assert len(lines) >= 200
    assert damaged == []


def test_a_key_printed_line_by_line_to_a_journal_is_hidden_to_its_end() -> None:
    body = ["MIIEowIBAAKCAQEAvXyz0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ", "QUJDREVGR0g="]
    stamp = "Nov {:02d} 09:00:{:02d} web-1 app[812]: "
    lines = [
        stamp.format(9, 1) + "-----BEGIN RSA PRIVATE KEY-----",
        *(stamp.format(9, 2 + i) + chunk for i, chunk in enumerate(body)),
        stamp.format(9, 5) + "-----END RSA PRIVATE KEY-----",
        stamp.format(10, 6) + "worker ready",
    ]
    cut = lines[1:]  # the same key with its BEGIN line cut off
    assert REDACTOR("\n".join(lines)) == (
        stamp.format(9, 1) + "[REDACTED:private-key]\n" + stamp.format(10, 6) + "worker ready"
    )
    assert REDACTOR("\n".join(cut)) == (
        stamp.format(9, 2) + "[REDACTED:private-key]\n" + stamp.format(10, 6) + "worker ready"
    )
    unterminated = "\n".join([*lines[:3], stamp.format(9, 7) + "ERROR MIIE is not a word"])
    assert REDACTOR(unterminated) == (
        stamp.format(9, 1)
        + "[REDACTED:private-key]\n"
        + stamp.format(9, 7)
        + "ERROR MIIE is not a word"
    )
