"""The GitHub tracker with its production client settings (PyGithub's pacing and retry)
against the stand-in answering rate limits and server errors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from remediate.trackers import GitHubTracker, TrackerError
from remediate.trackers.github import ClientSettings
from remediate.trackers.models import IssueAction
from tests.github_standin import GitHubStandIn
from tests.github_standin.faults import SECONDARY_RATE_LIMIT, Arrival
from tests.test_github_tracker import REPO, draft, repository, token_for

ISSUES = f"/repos/{REPO}/issues"
PACING = ClientSettings()  # what production uses


@pytest.fixture
def standin(github_standin: GitHubStandIn) -> Iterator[GitHubStandIn]:
    github_standin.add_repo(REPO)
    github_standin.faults.arrivals.clear()
    yield github_standin
    assert github_standin.violations == []
    assert github_standin.faults.exhausted


def tracker(standin: GitHubStandIn, client: ClientSettings = PACING) -> GitHubTracker:
    return GitHubTracker(repository(standin), token_for(standin), client=client)


def gaps(arrivals: list[Arrival]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(arrivals)]


def test_requests_and_writes_are_paced(standin: GitHubStandIn) -> None:
    assert PACING.seconds_between_requests == 0.25 and PACING.seconds_between_writes == 1.0
    client = tracker(standin)
    for n in range(3):
        client.open_or_update(draft(f"o{n}", fingerprint=f"{n:032x}"), datetime.now(UTC))
    arrivals = standin.faults.arrivals
    writes = [a for a in arrivals if a.method != "GET"]
    assert len(writes) >= 3
    # PyGithub waits from the end of the previous request, so arrivals are at least this far
    # apart however slow the machine is
    assert min(gaps(arrivals)) >= 0.25 - 0.01
    assert min(gaps(writes)) >= 1.0 - 0.01
    assert len(standin.issues(REPO)) == 3


def test_a_secondary_rate_limit_is_waited_out_and_the_issue_opened_once(
    standin: GitHubStandIn,
) -> None:
    standin.faults.fail_next("POST", ISSUES, 403, SECONDARY_RATE_LIMIT, {"Retry-After": "1"})
    ref = tracker(standin).open_or_update(draft("rl"), datetime.now(UTC))
    assert ref.action is IssueAction.OPENED
    posts = [a for a in standin.faults.arrivals if (a.method, a.path) == ("POST", ISSUES)]
    assert [a.status for a in posts] == [403, None]
    assert posts[1].at - posts[0].at >= 1.0 - 0.01  # Retry-After was honoured
    assert len(standin.issues(REPO)) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_on_a_read_is_retried_and_the_issue_opened_once(
    standin: GitHubStandIn, status: int
) -> None:
    standin.faults.fail_next("GET", ISSUES, status, times=2)
    ref = tracker(standin).open_or_update(draft(f"s{status}"), datetime.now(UTC))
    assert ref.action is IssueAction.OPENED
    reads = [a for a in standin.faults.arrivals if (a.method, a.path) == ("GET", ISSUES)]
    assert [a.status for a in reads][:3] == [status, status, None]
    assert len(standin.issues(REPO)) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_on_a_write_is_not_sent_again_blind(
    standin: GitHubStandIn, status: int
) -> None:
    """A 5xx may come after GitHub applied the write: the client does not resend it (the
    task's retry looks for the issue first), so one POST and a clear error."""
    standin.faults.fail_next("POST", ISSUES, status)
    with pytest.raises(TrackerError) as raised:
        tracker(standin).open_or_update(draft(f"w{status}"), datetime.now(UTC))
    assert str(status) in str(raised.value)
    posts = [a for a in standin.faults.arrivals if (a.method, a.path) == ("POST", ISSUES)]
    assert [a.status for a in posts] == [status]
    assert standin.issues(REPO) == []
    ref = tracker(standin).open_or_update(draft(f"w{status}"), datetime.now(UTC))
    assert ref.action is IssueAction.OPENED
    assert len(standin.issues(REPO)) == 1


def test_a_429_with_retry_after_is_retried(standin: GitHubStandIn) -> None:
    standin.faults.fail_next("GET", ISSUES, 429, "Too Many Requests", {"Retry-After": "1"})
    ref = tracker(standin).open_or_update(draft("r429"), datetime.now(UTC))
    assert ref.action is IssueAction.OPENED
    lists = [a for a in standin.faults.arrivals if (a.method, a.path) == ("GET", ISSUES)]
    assert [a.status for a in lists][:2] == [429, None]
    assert lists[1].at - lists[0].at >= 1.0 - 0.01


def test_without_retry_a_server_error_is_a_clear_retriable_error(standin: GitHubStandIn) -> None:
    """The unpaced settings the other tracker tests use really do not retry."""
    standin.faults.fail_next("POST", ISSUES, 502)
    with pytest.raises(TrackerError) as raised:
        tracker(standin, ClientSettings.unpaced()).open_or_update(draft("n"), datetime.now(UTC))
    assert "502" in str(raised.value)
    assert standin.issues(REPO) == []
