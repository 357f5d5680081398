"""Fixture: a GitHub API stand-in on 127.0.0.1 validating every exchange against GitHub's
OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github_standin import GitHubStandIn


@pytest.fixture(autouse=True)
def _no_ambient_github_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token in the developer's environment must never send a test to api.github.com;
    tests that want the GitHub tracker set the stand-in's token themselves."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)


@pytest.fixture
def github_standin() -> Iterator[GitHubStandIn]:
    """A fresh stand-in per test; ``.base_url`` ends in ``/api/v3``, ``.token`` authorises."""
    with GitHubStandIn() as standin:
        yield standin
