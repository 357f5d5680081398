"""The GitHub stand-in itself: it must catch what breaks GitHub's description, and each
documented gap of the description must be both needed and handled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from github import Auth, Github

from tests.github_standin import GitHubStandIn, gaps, resources, validation

REPO = "acme/shop"


@pytest.fixture
def standin(github_standin: GitHubStandIn) -> GitHubStandIn:
    github_standin.add_repo(REPO)
    return github_standin


@pytest.fixture
def fresh_description() -> Iterator[None]:
    """Reload the description around a test that changes how it is patched."""
    validation._description.cache_clear()
    validation._openapi.cache_clear()
    yield
    validation._description.cache_clear()
    validation._openapi.cache_clear()


def client(standin: GitHubStandIn, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"token {token or standin.token}"}
    return httpx.Client(base_url=standin.base_url, headers=headers, trust_env=False)


def pygithub(standin: GitHubStandIn) -> Github:
    return Github(
        base_url=standin.base_url,
        auth=Auth.Token(standin.token),
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def messages(standin: GitHubStandIn) -> list[str]:
    return [f"{v.method} {v.path} {v.message}" for v in standin.violations]


def test_response_missing_a_required_property_is_a_violation(
    standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_user = resources.user

    def user_without_node_id(urls: resources.Urls, login: str) -> dict[str, Any]:
        return {k: v for k, v in real_user(urls, login).items() if k != "node_id"}

    monkeypatch.setattr(resources, "user", user_without_node_id)
    with client(standin) as http:
        assert http.get(f"/repos/{REPO}").status_code == 200
    (found,) = messages(standin)
    assert found.startswith(f"GET /repos/{REPO} response 200: InvalidData")
    assert "owner: 'node_id' is a required property" in found


def test_invalid_query_parameter_is_a_violation(standin: GitHubStandIn) -> None:
    with client(standin) as http:
        http.get(f"/repos/{REPO}/issues", params={"state": "bogus"})
    (found,) = messages(standin)
    assert "request: InvalidParameter state" in found
    assert "'bogus' is not one of ['open', 'closed', 'all']" in found


def test_invalid_request_body_is_a_violation(standin: GitHubStandIn) -> None:
    with client(standin) as http:
        http.post(f"/repos/{REPO}/issues", json={"title": "t", "labels": "not-a-list"})
    assert any("request: InvalidRequestBody" in m for m in messages(standin))


def test_undescribed_operation_is_a_violation(standin: GitHubStandIn) -> None:
    with client(standin) as http:
        assert http.delete(f"/repos/{REPO}").status_code == 404
        assert http.get(f"/repos/{REPO}/hooks").status_code == 404
    found = messages(standin)
    assert any("OperationNotFound" in m and m.startswith("DELETE") for m in found)
    assert any("PathNotFound" in m and "/hooks" in m for m in found)


def test_authentication_like_github(standin: GitHubStandIn) -> None:
    with httpx.Client(base_url=standin.base_url, trust_env=False) as http:
        missing = http.get(f"/repos/{REPO}")
        wrong = http.get(f"/repos/{REPO}", headers={"Authorization": "token nope"})
        bearer = http.get(f"/repos/{REPO}", headers={"Authorization": f"Bearer {standin.token}"})
    assert (missing.status_code, missing.json()["message"]) == (401, "Requires authentication")
    assert (wrong.status_code, wrong.json()["message"]) == (401, "Bad credentials")
    assert bearer.status_code == 200
    assert standin.violations == []


def test_github_limits_and_refusals(standin: GitHubStandIn) -> None:
    with client(standin) as http:
        too_long = http.post(f"/repos/{REPO}/issues", json={"title": "t", "body": "x" * 65_537})
        no_branch = http.post(
            f"/repos/{REPO}/pulls", json={"title": "t", "head": "nope", "base": "main"}
        )
        standin.add_branch(REPO, "fix/a", "1" * 40)
        first = http.post(
            f"/repos/{REPO}/pulls", json={"title": "t", "head": "acme:fix/a", "base": "main"}
        )
        again = http.post(
            f"/repos/{REPO}/pulls", json={"title": "t", "head": "acme:fix/a", "base": "main"}
        )
        missing_issue = http.get(f"/repos/{REPO}/issues/99")
    assert too_long.status_code == 422
    assert "maximum is 65536" in too_long.json()["errors"][0]["message"]
    assert no_branch.status_code == 422
    assert first.status_code == 201 and first.json()["head"]["sha"] == "1" * 40
    assert again.status_code == 422
    assert "already exists" in again.json()["errors"][0]["message"]
    assert missing_issue.status_code == 404
    assert standin.violations == []


def test_pygithub_round_trip_without_violations(standin: GitHubStandIn) -> None:
    repo = pygithub(standin).get_repo(REPO)
    issue = repo.create_issue("t", body="b", labels=["one"])
    issue.add_to_labels("two")
    issue.create_comment("c")
    issue.edit(state="closed")
    issue.edit(state="open")
    assert [i.number for i in repo.get_issues(labels=["one", "two"], state="all")] == [1]
    assert repo.get_label("two").name == "two"
    standin.add_branch(REPO, "remediate/alert-1", "2" * 40)
    assert repo.get_branch("remediate/alert-1").commit.sha == "2" * 40
    pull = repo.create_pull(base="main", head="remediate/alert-1", title="fix", body="why")
    assert pull.issue_url.endswith("/issues/2")
    assert [p.number for p in repo.get_pulls(state="open", head="acme:remediate/alert-1")] == [2]
    assert repo.get_pull(2).head.ref == "remediate/alert-1"
    assert standin.violations == []


def test_gap_state_reason_null_is_needed(
    fresh_description: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gaps, "patch_description", lambda spec: spec)
    with GitHubStandIn() as standin:
        standin.add_repo(REPO)
        pygithub(standin).get_repo(REPO).create_issue("t")
    assert any("state_reason: None is not one of" in m for m in messages(standin))


def test_gap_bare_label_array_is_needed(
    standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = pygithub(standin).get_repo(REPO).create_issue("t")
    monkeypatch.setattr(gaps, "request_body_for_validation", lambda method, path, body: body)
    issue.add_to_labels("bug")
    (found,) = messages(standin)
    assert found.startswith(f"POST /repos/{REPO}/issues/1/labels request: InvalidRequestBody")


def test_gap_branch_with_slash_is_needed(
    standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.add_branch(REPO, "remediate/alert-1", "3" * 40)
    monkeypatch.setattr(gaps, "path_for_validation", lambda path: path)
    pygithub(standin).get_repo(REPO).get_branch("remediate/alert-1")
    assert any("PathNotFound" in m for m in messages(standin))


def test_gap_generic_errors_is_needed_and_narrow(
    standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    with client(standin, token="wrong") as http:
        http.get(f"/repos/{REPO}/pulls")
    assert standin.violations == []
    monkeypatch.setattr(gaps, "GENERIC_ERROR_STATUSES", frozenset())
    with client(standin, token="wrong") as http:
        http.get(f"/repos/{REPO}/pulls")
    (found,) = messages(standin)
    assert "response 401: ResponseNotFound" in found
