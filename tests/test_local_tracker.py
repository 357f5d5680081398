from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from remediate.trackers import IssueDraft, LocalTracker
from remediate.trackers.models import IssueAction

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


def draft(occurrence: str, fingerprint: str = "fp1") -> IssueDraft:
    return IssueDraft(
        fingerprint=fingerprint,
        occurrence_key=f"{fingerprint}:{occurrence}",
        title="[critical] S1-probes on demo: HTTP 500",
        body="first body",
        comment=f"fired again ({occurrence})",
        labels=["remediate", "severity:critical"],
    )


def test_open_then_comment_then_idempotent(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    opened = tracker.open_or_update(draft("a"), NOW)
    assert (opened.action, opened.number) == (IssueAction.OPENED, 1)
    assert tracker.open_or_update(draft("a"), NOW).action is IssueAction.OPENED
    commented = tracker.open_or_update(draft("b"), NOW)
    assert (commented.action, commented.number) == (IssueAction.COMMENTED, 1)
    assert tracker.open_or_update(draft("b"), NOW).action is IssueAction.UNCHANGED
    issues = tracker.issues()
    assert len(issues) == 1
    assert [c.body for c in issues[0].comments] == ["fired again (b)"]
    rendered = (tmp_path / "1.md").read_text()
    assert "first body" in rendered and "fired again (b)" in rendered


def test_fingerprints_get_their_own_issues(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    assert tracker.open_or_update(draft("a", "fp1"), NOW).number == 1
    assert tracker.open_or_update(draft("a", "fp2"), NOW).number == 2


def test_recently_closed_issue_is_reopened_old_one_is_not(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path, reopen_window=timedelta(hours=1))
    tracker.open_or_update(draft("a"), NOW)
    tracker.close(1, NOW)
    reopened = tracker.open_or_update(draft("b"), NOW + timedelta(minutes=30))
    assert (reopened.action, reopened.number) == (IssueAction.REOPENED, 1)
    assert tracker.get(1).state == "open"
    tracker.close(1, NOW + timedelta(minutes=31))
    fresh = tracker.open_or_update(draft("c"), NOW + timedelta(hours=3))
    assert (fresh.action, fresh.number) == (IssueAction.OPENED, 2)


def test_add_comment_once_per_key(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    tracker.open_or_update(draft("a"), NOW)
    assert tracker.add_comment(1, "pr", "PR opened") is True
    assert tracker.add_comment(1, "pr", "PR opened") is False
    assert len(tracker.get(1).comments) == 1


def test_issue_for_a_fingerprint_is_the_open_one_else_the_last_closed(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path, reopen_window=timedelta(hours=1))
    assert tracker.issue_for("fp1") is None
    tracker.open_or_update(draft("a", "fp1"), NOW)
    tracker.open_or_update(draft("a", "fp2"), NOW)
    assert (tracker.issue_for("fp1"), tracker.issue_for("fp2")) == (1, 2)
    tracker.close(1, NOW)
    assert tracker.issue_for("fp1") == 1
    tracker.open_or_update(draft("b", "fp1"), NOW + timedelta(hours=3))
    assert tracker.issue_for("fp1") == 3
