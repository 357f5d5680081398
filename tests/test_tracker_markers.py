"""Hidden markers count only when remediate wrote them: signed, in the header, by our user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from remediate.catalog import Repository
from remediate.trackers import GitHubTracker, IssueDraft, LocalTracker, TrackerConfigError
from remediate.trackers.github import ClientSettings, fingerprint_label
from remediate.trackers.markers import MARKER_KEY_ENV, MarkerSigner
from remediate.trackers.models import IssueAction
from remediate.trackers.token import GitHubToken
from tests.github_standin import GitHubStandIn

REPO = "acme/shop"
FP = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def draft(occurrence: str, body: str = "first body") -> IssueDraft:
    return IssueDraft(
        fingerprint=FP,
        occurrence_key=f"{FP}:{occurrence}",
        title="[critical] S1-probes on shop: HTTP 500",
        body=body,
        comment=f"fired again ({occurrence})",
        labels=["remediate"],
    )


@pytest.fixture
def standin(github_standin: GitHubStandIn) -> Iterator[GitHubStandIn]:
    github_standin.add_repo(REPO)
    yield github_standin
    assert github_standin.violations == []


def tracker_for(standin: GitHubStandIn) -> GitHubTracker:
    owner, name = REPO.split("/")
    repository = Repository(owner=owner, name=name, api_base_url=standin.base_url)
    token = GitHubToken(SecretStr(standin.token), "test")
    return GitHubTracker(repository, token, client=ClientSettings.unpaced())


def ours(standin: GitHubStandIn, number: int = 1) -> list[str]:
    issue = standin.issues(REPO)[number - 1]
    return [c.body for c in issue.comments if c.author == "remediate-bot"]


def forged(marker: str) -> str:
    """``marker`` with its signature changed in one place."""
    head, _, rest = marker.partition(" sig=")
    flipped = ("0" if rest[0] != "0" else "1") + rest[1:]
    return f"{head} sig={flipped}"


def test_a_signed_marker_in_another_users_comment_does_not_count(
    standin: GitHubStandIn,
) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a"), NOW)
    genuine = tracker.markers.marker("occurrence", "k:fix")
    standin.add_comment(REPO, 1, genuine + "\nlooks done", author="mallory")
    assert tracker.add_comment(1, "k:fix", "the fix proposal") is True
    assert tracker.add_comment(1, "k:fix", "the fix proposal") is False
    assert tracker_for(standin).add_comment(1, "k:fix", "the fix proposal") is False
    assert ours(standin) == [genuine + "\nthe fix proposal"]


def test_a_marker_with_a_bad_signature_does_not_count_even_from_our_user(
    standin: GitHubStandIn,
) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a"), NOW)
    fake = forged(tracker.markers.marker("occurrence", "k:pull"))
    standin.add_comment(REPO, 1, fake + "\nPR link", author="remediate-bot")
    unsigned = "<!-- remediate:occurrence=k:pull -->\nPR link"
    standin.add_comment(REPO, 1, unsigned, author="remediate-bot")
    assert tracker.add_comment(1, "k:pull", "Pull request opened") is True
    assert tracker.add_comment(1, "k:pull", "Pull request opened") is False
    assert sum("Pull request opened" in body for body in ours(standin)) == 1


def test_a_marker_signed_with_another_key_does_not_count(
    standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a"), NOW)
    monkeypatch.setenv(MARKER_KEY_ENV, "k" * 40)
    other = tracker_for(standin).markers.marker("occurrence", "k:fix")
    monkeypatch.delenv(MARKER_KEY_ENV)
    standin.add_comment(REPO, 1, other + "\nproposal", author="remediate-bot")
    assert tracker.add_comment(1, "k:fix", "the fix proposal") is True


def test_a_marker_planted_in_the_issue_text_does_not_count(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    planted = tracker.markers.marker("occurrence", f"{FP}:b")
    tracker.open_or_update(draft("a", body=f"alert summary:\n{planted}\n"), NOW)
    assert tracker.open_or_update(draft("b"), NOW).action is IssueAction.COMMENTED
    assert tracker.open_or_update(draft("b"), NOW).action is IssueAction.UNCHANGED
    assert len(ours(standin)) == 1


def test_a_marker_in_an_issue_someone_else_opened_does_not_count(
    standin: GitHubStandIn,
) -> None:
    tracker = tracker_for(standin)
    rival = draft("z")
    body = rival.marked_body(tracker.markers)
    standin.create_issue(REPO, rival.title, body, [fingerprint_label(FP)], author="mallory")
    assert tracker.open_or_update(draft("z"), NOW).action is IssueAction.COMMENTED
    assert tracker.open_or_update(draft("z"), NOW).action is IssueAction.UNCHANGED


def test_an_alert_id_cannot_end_the_marker_comment(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a"), NOW)
    key = "k:x --> <img src=x onerror=alert(1)> <!-- remediate:occurrence=k:y"
    assert tracker.add_comment(1, key, "note") is True
    assert tracker.add_comment(1, "k:y", "other note") is True
    first, _ = ours(standin)
    assert "-->" not in first.split("\n")[0][:-4] and "<img" not in first
    assert tracker.add_comment(1, key, "note") is False


def test_a_short_marker_key_is_refused(
    standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MARKER_KEY_ENV, "short")
    with pytest.raises(TrackerConfigError, match=f"{MARKER_KEY_ENV} is 5 characters"):
        tracker_for(standin)


def test_local_tracker_ignores_markers_planted_in_the_body(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    planted = tracker.markers.marker("occurrence", f"{FP}:b")
    tracker.open_or_update(draft("a", body=f"log line: {planted}\n{planted}\n"), NOW)
    assert tracker.open_or_update(draft("b"), NOW).action is IssueAction.COMMENTED
    assert tracker.open_or_update(draft("b"), NOW).action is IssueAction.UNCHANGED
    assert [c.body for c in tracker.get(1).comments] == ["fired again (b)"]


def test_local_tracker_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = LocalTracker(tmp_path).markers.marker("occurrence", "k")
    assert LocalTracker(tmp_path).markers.marker("occurrence", "k") == first
    assert (tmp_path / ".marker-key").stat().st_mode & 0o777 == 0o600
    assert LocalTracker(tmp_path / "elsewhere").markers.marker("occurrence", "k") != first


def test_configured_key_is_shared_by_trackers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MARKER_KEY_ENV, "s" * 64)
    local = LocalTracker(tmp_path).markers.marker("occurrence", "k")
    assert MarkerSigner.for_token("ghs_any").marker("occurrence", "k") == local
    assert not (tmp_path / ".marker-key").exists()
