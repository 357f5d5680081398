"""The git token travels only over HTTPS or to this machine, checked with real git.

Plain HTTP to any other host gets no token. The non-loopback case is proven without
traffic leaving the machine: git resolves the remote's host name to the local remote
(``http.curloptResolve``), which records every ``Authorization`` header it receives.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from remediate.fixer.git import GitError, clone, git_env, sends_token_safely
from tests.support.git_remote import GitRemote

TOKEN = "ghs_transport_token_value_0123"
EXPECTED = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://github.example/acme/api.git", True),
        ("http://127.0.0.1:8080/acme/api.git", True),
        ("http://localhost/acme/api.git", True),
        ("http://[::1]:8080/acme/api.git", True),
        ("http://github.example/acme/api.git", False),
        ("http://10.0.0.5/acme/api.git", False),
        ("http://127.0.0.2/acme/api.git", False),
        ("http://localhost.evil.example/acme/api.git", False),
        ("http://127.0.0.1.nip.io/acme/api.git", False),
        ("http://127.0.0.1@evil.example/acme/api.git", False),
        ("git://127.0.0.1/acme/api.git", False),
        ("ftp://127.0.0.1/acme/api.git", False),
    ],
)
def test_the_token_goes_only_over_https_or_to_loopback(url: str, safe: bool) -> None:
    assert sends_token_safely(url) is safe
    env = git_env(Path("/nonexistent"), url, TOKEN)
    carried = any(TOKEN in v or EXPECTED.split()[1] in v for v in env.values())
    assert carried is safe


def with_config(env: dict[str, str], key: str, value: str) -> dict[str, str]:
    """``env`` with one more ``GIT_CONFIG_*`` entry after whatever it already has."""
    index = int(env.get("GIT_CONFIG_COUNT", "0"))
    return env | {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": key,
        f"GIT_CONFIG_VALUE_{index}": value,
    }


def test_plain_http_to_a_non_loopback_host_sends_no_token(
    tmp_path: Path, git_remote: GitRemote
) -> None:
    git_remote.token = TOKEN
    git_remote.add_repo("acme", "api")
    host = "git.remediate-test.invalid"
    url = git_remote.url("acme", "api", host=host)
    env = git_env(tmp_path, url, TOKEN)
    assert "GIT_CONFIG_COUNT" not in env
    # the name resolves to the local remote for this git only; nothing leaves the machine
    env = with_config(env, "http.curloptResolve", f"{host}:{git_remote.port}:127.0.0.1")
    with pytest.raises(GitError, match="clone failed"):
        clone(url, "main", tmp_path / "checkout", env, timeout=60)
    assert git_remote.log, "git never reached the local remote"
    assert git_remote.authorizations and set(git_remote.authorizations) == {""}


def test_plain_http_to_loopback_sends_the_token(tmp_path: Path, git_remote: GitRemote) -> None:
    git_remote.token = TOKEN
    git_remote.add_repo("acme", "api")
    url = git_remote.url("acme", "api")
    head = clone(url, "main", tmp_path / "checkout", git_env(tmp_path, url, TOKEN), timeout=60)
    assert len(head) == 40
    assert EXPECTED in git_remote.authorizations


def test_https_sends_the_token_and_trusts_the_named_certificate(
    tmp_path: Path, tls_git_remote: tuple[GitRemote, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    remote, certificate = tls_git_remote
    remote.token = TOKEN
    remote.add_repo("acme", "api")
    url = remote.url("acme", "api")
    assert url.startswith("https://127.0.0.1:")

    with pytest.raises(GitError, match="certificate"):
        clone(url, "main", tmp_path / "untrusted", git_env(tmp_path, url, TOKEN), timeout=60)
    assert remote.log == []  # the handshake failed before any request

    monkeypatch.setenv("GIT_SSL_CAINFO", str(certificate))
    env = git_env(tmp_path, url, TOKEN)
    assert env["GIT_SSL_CAINFO"] == str(certificate)
    head = clone(url, "main", tmp_path / "checkout", env, timeout=60)
    assert len(head) == 40
    assert EXPECTED in remote.authorizations
    assert all(auth in ("", EXPECTED) for auth in remote.authorizations)
