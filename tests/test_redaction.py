"""Redaction: every seeded secret becomes a typed marker; ordinary text is left alone."""

from __future__ import annotations

import pytest

from remediate.redaction import Redactor
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
    assert REDACTOR("Bearer abcdefghijklmnop") == "Bearer [REDACTED:bearer-token]"
    assert REDACTOR("password=hunter22 ok") == "password=[REDACTED:password] ok"
    assert REDACTOR('{"api_token": "abc"}') == '{"api_token": "[REDACTED:token]"}'
    assert REDACTOR("client_secret: s3cr3t") == "client_secret: [REDACTED:secret]"
    assert REDACTOR("https://u:p4ss@h/x") == "https://[REDACTED:url-credentials]h/x"
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


def test_an_unterminated_private_key_is_hidden_to_the_end() -> None:
    out = REDACTOR("before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt\nAAAA")
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
        "message": "auth with Bearer abcdefghijklmnop",
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
