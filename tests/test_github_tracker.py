from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from remediate.alerts import Alert
from remediate.catalog import Catalog, Repository, TrackerConfig
from remediate.incident.models import OutcomeStatus
from remediate.settings import Settings
from remediate.trackers import (
    GitHubTracker,
    IssueDraft,
    LocalTracker,
    TrackerConfigError,
    TrackerError,
    make_tracker,
)
from remediate.trackers.github import TEXT_LIMIT, ClientSettings, fingerprint_label
from remediate.trackers.models import IssueAction
from remediate.trackers.token import GitHubToken, resolve_token
from tests.github_standin import GitHubStandIn
from tests.github_standin.state import Issue
from tests.support.http_services import Service as HttpService

REPO = "acme/shop"
FP = "0123456789abcdef0123456789abcdef"


def draft(occurrence: str, fingerprint: str = FP, **changes: object) -> IssueDraft:
    fields: dict[str, object] = {
        "fingerprint": fingerprint,
        "occurrence_key": f"{fingerprint}:{occurrence}",
        "title": "[critical] S1-probes on shop: HTTP 500",
        "body": "first body",
        "comment": f"fired again ({occurrence})",
        "labels": ["remediate", "severity:critical", "service:shop"],
    }
    return IssueDraft.model_validate(fields | changes)


def token_for(standin: GitHubStandIn, value: str | None = None) -> GitHubToken:
    from pydantic import SecretStr

    return GitHubToken(SecretStr(value or standin.token), "environment variable GITHUB_TOKEN")


def repository(standin: GitHubStandIn) -> Repository:
    owner, name = REPO.split("/")
    return Repository.model_validate(
        {"owner": owner, "name": name, "api_base_url": standin.base_url}
    )


@pytest.fixture
def standin(github_standin: GitHubStandIn) -> Iterator[GitHubStandIn]:
    github_standin.add_repo(REPO)
    yield github_standin
    assert github_standin.violations == []


def tracker_for(standin: GitHubStandIn, window: timedelta = timedelta(hours=72)) -> GitHubTracker:
    return GitHubTracker(
        repository(standin), token_for(standin), window, client=ClientSettings.unpaced()
    )


def now() -> datetime:
    return datetime.now(UTC)


def comment_bodies(issue: Issue) -> list[str]:
    return [c.body for c in issue.comments]


def test_opens_one_issue_with_markers_and_labels(standin: GitHubStandIn) -> None:
    ref = tracker_for(standin).open_or_update(draft("a"), now())
    assert (ref.tracker, ref.number, ref.action) == ("github", 1, IssueAction.OPENED)
    assert ref.url == f"{standin.html_url}/{REPO}/issues/1"
    (issue,) = standin.issues(REPO)
    assert issue.title == "[critical] S1-probes on shop: HTTP 500"
    assert issue.body is not None and issue.body.endswith("first body")
    markers = tracker_for(standin).markers
    assert issue.body.startswith(markers.marker("fingerprint", FP) + "\n")
    assert markers.marker("occurrence", f"{FP}:a") in issue.body
    assert issue.labels == [
        "remediate",
        "severity:critical",
        "service:shop",
        f"remediate-fp:{FP}",
    ]
    assert standin.violations == []


def test_recurrence_comments_and_retries_change_nothing(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    assert tracker.open_or_update(draft("a"), now()).action is IssueAction.OPENED
    assert tracker.open_or_update(draft("a"), now()).action is IssueAction.OPENED
    commented = tracker.open_or_update(draft("b"), now())
    assert (commented.action, commented.number) == (IssueAction.COMMENTED, 1)
    again = tracker_for(standin).open_or_update(draft("b"), now())
    assert (again.action, again.number) == (IssueAction.UNCHANGED, 1)
    (issue,) = standin.issues(REPO)
    assert len(issue.comments) == 1
    assert comment_bodies(issue)[0].endswith("fired again (b)")
    assert tracker.markers.marker("occurrence", f"{FP}:b") in comment_bodies(issue)[0]
    assert standin.violations == []


def test_comments_are_read_across_pages(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a"), now())
    for n in range(40):
        standin.add_comment(REPO, 1, f"looking into it ({n})")
    assert tracker.open_or_update(draft("b"), now()).action is IssueAction.COMMENTED
    assert tracker.open_or_update(draft("b"), now()).action is IssueAction.UNCHANGED
    assert len(standin.issues(REPO)[0].comments) == 41
    assert any("page=2" in query for _, _, query in standin.requests)
    assert standin.violations == []


def rival(standin: GitHubStandIn, occurrence: str) -> None:
    other = draft(occurrence)
    labels = [*other.labels, fingerprint_label(FP)]
    standin.create_issue(REPO, other.title, other.marked_body(tracker_for(standin).markers), labels)


def test_issue_opened_concurrently_for_the_fingerprint_wins_once(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    standin.before_next("POST", f"/repos/{REPO}/issues", lambda: rival(standin, "z"))
    ref = tracker.open_or_update(draft("a"), now())
    assert (ref.action, ref.number) == (IssueAction.COMMENTED, 1)
    first, second = standin.issues(REPO)
    assert first.state == "open" and len(first.comments) == 1
    assert f"occurrence={FP}:a sig=" in first.comments[0].body
    assert (second.state, second.state_reason) == ("closed", "duplicate")
    assert second.comments[0].body.startswith("Duplicate of #1")
    assert tracker.open_or_update(draft("a"), now()).action is IssueAction.UNCHANGED
    assert tracker.open_or_update(draft("b"), now()).number == 1
    assert standin.violations == []


def test_newer_open_duplicates_are_closed_on_the_next_write(standin: GitHubStandIn) -> None:
    rival(standin, "y")
    rival(standin, "z")
    ref = tracker_for(standin).open_or_update(draft("z"), now())
    assert (ref.action, ref.number) == (IssueAction.COMMENTED, 1)
    assert [(i.state, i.state_reason) for i in standin.issues(REPO)] == [
        ("open", None),
        ("closed", "duplicate"),
    ]
    assert standin.violations == []


def test_fingerprints_get_their_own_issues_and_pulls_are_ignored(
    standin: GitHubStandIn,
) -> None:
    tracker = tracker_for(standin)
    standin.add_branch(REPO, "remediate/x", "1" * 40)
    assert tracker.open_or_update(draft("a", "fp1"), now()).number == 1
    pull = tracker._repository().create_pull(base="main", head="remediate/x", title="a fix")
    pull.add_to_labels(fingerprint_label("fp2"))
    assert tracker.open_or_update(draft("a", "fp2"), now()).number == 3
    assert tracker.open_or_update(draft("b", "fp1"), now()).number == 1
    assert [i.number for i in standin.issues(REPO)] == [1, 3]
    assert standin.violations == []


def test_recently_closed_issue_is_reopened_old_one_is_not(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin, window=timedelta(hours=1))
    start = now()
    tracker.open_or_update(draft("a"), start)
    standin.close_issue(REPO, 1, at=start)
    reopened = tracker.open_or_update(draft("b"), start + timedelta(minutes=30))
    assert (reopened.action, reopened.number) == (IssueAction.REOPENED, 1)
    issue = standin.issues(REPO)[0]
    assert (issue.state, issue.state_reason) == ("open", "reopened")
    assert comment_bodies(issue)[0].endswith("fired again (b)")

    standin.close_issue(REPO, 1, at=start + timedelta(minutes=31))
    assert tracker.issue_for(FP) == 1
    fresh = tracker.open_or_update(draft("c"), start + timedelta(hours=3))
    assert (fresh.action, fresh.number) == (IssueAction.OPENED, 2)
    assert tracker.issue_for(FP) == 2
    assert tracker.issue_for("no-such-fingerprint") is None
    assert [i.state for i in standin.issues(REPO)] == ["closed", "open"]
    assert standin.violations == []


def test_missing_labels_are_added_on_recurrence(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a", labels=["remediate", "severity:warning"]), now())
    tracker.open_or_update(draft("b", labels=["remediate", "severity:critical"]), now())
    (issue,) = standin.issues(REPO)
    assert issue.labels == [
        "remediate",
        "severity:warning",
        f"remediate-fp:{FP}",
        "severity:critical",
    ]
    assert standin.violations == []


def test_long_fingerprint_gets_a_hashed_label_and_marker_check(standin: GitHubStandIn) -> None:
    long_a = "s" * 60 + "a"
    long_b = "s" * 60 + "b"
    assert len(fingerprint_label(long_a)) == 50
    assert fingerprint_label(long_a) != fingerprint_label(long_b)
    tracker = tracker_for(standin)
    assert tracker.open_or_update(draft("x", long_a), now()).number == 1
    assert tracker.open_or_update(draft("x", long_b), now()).number == 2
    assert tracker.open_or_update(draft("y", long_a), now()).number == 1
    assert fingerprint_label("Fp-A") != fingerprint_label("fp-a")
    assert tracker.open_or_update(draft("x", "Fp-A"), now()).number == 3
    assert tracker.open_or_update(draft("x", "fp-a"), now()).number == 4
    assert standin.violations == []


def test_oversized_body_and_comment_are_trimmed_to_fit(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    huge = "x" * 200_000
    tracker.open_or_update(draft("a", body=huge, comment=huge), now())
    tracker.open_or_update(draft("b", body=huge, comment=huge), now())
    (issue,) = standin.issues(REPO)
    assert issue.body is not None and len(issue.body) <= TEXT_LIMIT
    assert f"occurrence={FP}:a" in issue.body and "truncated" in issue.body
    assert len(issue.comments[0].body) <= TEXT_LIMIT
    assert tracker.open_or_update(draft("b", comment=huge), now()).action is IssueAction.UNCHANGED
    assert standin.violations == []


def test_add_comment_once_per_key(standin: GitHubStandIn) -> None:
    tracker = tracker_for(standin)
    tracker.open_or_update(draft("a"), now())
    assert tracker.add_comment(1, "pr", "PR opened") is True
    assert tracker.add_comment(1, "pr", "PR opened") is False
    (issue,) = standin.issues(REPO)
    assert comment_bodies(issue) == [tracker.markers.marker("occurrence", "pr") + "\nPR opened"]
    assert standin.violations == []


def test_bad_token_is_a_clear_error_without_the_token(standin: GitHubStandIn) -> None:
    tracker = GitHubTracker(
        repository(standin),
        token_for(standin, "ghp_wrong_token_value"),
        client=ClientSettings.unpaced(),
    )
    with pytest.raises(TrackerError) as caught:
        tracker.open_or_update(draft("a"), now())
    message = str(caught.value)
    assert "refused the token from environment variable GITHUB_TOKEN" in message
    assert "401 Bad credentials" in message and REPO in message
    assert "ghp_wrong_token_value" not in message
    assert standin.issues(REPO) == []
    assert standin.violations == []


def test_unknown_repository_is_a_clear_error(standin: GitHubStandIn) -> None:
    tracker = GitHubTracker(
        Repository(owner="acme", name="nope", api_base_url=standin.base_url),  # type: ignore[arg-type]
        token_for(standin),
        client=ClientSettings.unpaced(),
    )
    with pytest.raises(TrackerError, match=r"404 .*acme/nope.*does not exist"):
        tracker.open_or_update(draft("a"), now())
    assert standin.violations == []


def test_unreachable_api_is_a_clear_error(standin: GitHubStandIn) -> None:
    base = standin.base_url
    standin.stop()
    tracker = GitHubTracker(
        Repository(owner="acme", name="shop", api_base_url=base),  # type: ignore[arg-type]
        token_for(standin),
        client=ClientSettings.unpaced(),
    )
    with pytest.raises(TrackerError, match="unreachable"):
        tracker.open_or_update(draft("a"), now())


def catalog_with(kind: str, repo: dict[str, str] | None, **tracker: str) -> Catalog:
    service: dict[str, object] = {"name": "shop"}
    if repo is not None:
        service["repository"] = repo
    return Catalog.model_validate({"services": [service], "tracker": {"kind": kind, **tracker}})


def test_make_tracker_chooses_by_kind_repository_and_token(
    github_standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    settings = Settings(data_dir=tmp_path)  # type: ignore[arg-type]
    repo = {"owner": "acme", "name": "shop", "api_base_url": github_standin.base_url}
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    auto = catalog_with("auto", repo)
    assert isinstance(make_tracker(auto, auto.service("shop"), settings), LocalTracker)
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    chosen = make_tracker(auto, auto.service("shop"), settings)
    assert isinstance(chosen, GitHubTracker)
    assert chosen.base_url == github_standin.base_url
    bare = catalog_with("auto", None)
    assert isinstance(make_tracker(bare, bare.service("shop"), settings), LocalTracker)
    local = catalog_with("local", repo)
    assert isinstance(make_tracker(local, local.service("shop"), settings), LocalTracker)

    forced = catalog_with("github", None)
    with pytest.raises(TrackerConfigError, match="service 'shop' has no repository"):
        make_tracker(forced, forced.service("shop"), settings)
    monkeypatch.delenv("GITHUB_TOKEN")
    forced = catalog_with("github", repo, token_env="SHOP_GH_TOKEN")
    with pytest.raises(TrackerConfigError, match="environment variable SHOP_GH_TOKEN"):
        make_tracker(forced, forced.service("shop"), settings)


def test_default_api_base_url_is_github(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = GitHubTracker(Repository(owner="acme", name="shop"), token_for_value("x"))
    assert tracker.base_url == "https://api.github.com"


def token_for_value(value: str) -> GitHubToken:
    from pydantic import SecretStr

    return GitHubToken(SecretStr(value), "test")


def test_token_from_environment_is_not_in_its_repr() -> None:
    token = resolve_token(TrackerConfig(token_env="MY_TOKEN"), {"MY_TOKEN": " s3cret \n"})
    assert token is not None
    assert token.value.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(token)
    assert resolve_token(TrackerConfig(), {}) is None


async def test_token_from_prefect_secret_block(prefect_server: str) -> None:
    from prefect.blocks.system import Secret

    await Secret(value="ghs_from_block").save("remediate-test-gh-token", overwrite=True)
    config = TrackerConfig(token_block="remediate-test-gh-token")
    token = await _in_thread(resolve_token, config)
    assert token is not None
    assert token.value.get_secret_value() == "ghs_from_block"
    assert token.source == "Prefect Secret block 'remediate-test-gh-token'"
    with pytest.raises(TrackerConfigError, match=r"tracker\.token_block: no Prefect Secret"):
        await _in_thread(resolve_token, TrackerConfig(token_block="no-such-block"))


async def _in_thread(fn: object, *args: object) -> object:
    import asyncio

    return await asyncio.to_thread(fn, *args)  # type: ignore[arg-type]


def sentinel_alert(minute: int) -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": "S1-probes",
            "timestamp": f"2026-11-27T14:{minute:02d}:00",
            "status": "fail",
            "message": "Unexpected status: HTTP 500",
        }
    )


def use_github_catalog(
    standin: GitHubStandIn, service: HttpService, where: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.add_repo(REPO)
    service.set(status=500)
    catalog = {
        "services": [
            {
                "name": "shop",
                "checks": ["S1-*"],
                "health": [{"url": service.health_url, "timeout_s": 2}],
                "repository": {"owner": "acme", "name": "shop", "api_base_url": standin.base_url},
            }
        ],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {"critical": {"collect_logs": False, "propose_fix": False}},
    }
    (where / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    monkeypatch.setenv("REMEDIATE_CATALOG", str(where / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(where / "data"))


async def test_flow_with_a_refused_token_fails_at_once_naming_the_cause(
    prefect_server: str,
    github_standin: GitHubStandIn,
    http_service: HttpService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.remediate_alert import remediate_alert

    use_github_catalog(github_standin, http_service, tmp_path, monkeypatch)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_revoked_token_value")
    with pytest.raises(TrackerError, match="refused the token from environment variable"):
        await remediate_alert(sentinel_alert(0))
    assert [(m, p) for m, p, _ in github_standin.requests] == [("GET", f"/api/v3/repos/{REPO}")]
    assert github_standin.violations == []


async def test_flow_opens_a_github_issue_then_comments_on_it(
    prefect_server: str,
    github_standin: GitHubStandIn,
    http_service: HttpService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.remediate_alert import remediate_alert

    use_github_catalog(github_standin, http_service, tmp_path, monkeypatch)
    monkeypatch.setenv("GITHUB_TOKEN", github_standin.token)

    first = await remediate_alert(sentinel_alert(0))
    assert first.status is OutcomeStatus.ISSUE_OPENED
    assert first.issue is not None
    assert (first.issue.tracker, first.issue.number) == ("github", 1)
    assert first.issue.url == f"{github_standin.html_url}/{REPO}/issues/1"

    second = await remediate_alert(sentinel_alert(5))
    assert second.status is OutcomeStatus.ISSUE_UPDATED
    assert second.issue is not None and second.issue.number == 1

    (issue,) = github_standin.issues(REPO)
    assert issue.body is not None and "/runs/flow-run/" in issue.body
    assert "upstream database unavailable" in issue.body
    assert {"remediate", "service:shop", f"remediate-fp:{first.fingerprint}"} <= set(issue.labels)
    assert len(issue.comments) == 1
    assert second.alert_id in issue.comments[0].body
    assert not (tmp_path / "data" / "issues").exists()
    assert github_standin.violations == []
    runs = [r.flow_run_id for r in (first, second) if r.flow_run_id]
    assert len(runs) == 2
    assert github_standin.token not in await run_records(runs)


async def run_records(run_ids: list[str]) -> str:
    """Every log line and artifact the runs left on the Prefect server, as one text."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    ids = [UUID(r) for r in run_ids]
    async with get_client() as client:
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        artifacts = await client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
        )
    assert logs and artifacts
    return "\n".join([*(log.message for log in logs), *(str(a.data) for a in artifacts)])
