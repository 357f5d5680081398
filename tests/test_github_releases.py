"""Releases read from GitHub Deployments, against the stand-in that checks GitHub's OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from remediate.catalog import Catalog, CatalogError, Repository
from remediate.rollback.config import ReleaseSource
from remediate.rollback.github_releases import read_github_releases
from remediate.rollback.models import ReleaseRead
from remediate.trackers.github import ClientSettings
from remediate.trackers.token import GitHubToken
from tests.github_standin import GitHubStandIn
from tests.support.fix_runner import DECISION_KEY, TOKEN, FixRunner
from tests.support.gateway import config, running_gateway
from tests.support.sim_service import SimService
from tests.support.webhook_sink import WebhookSink
from tests.test_fix_approval import submit
from tests.test_rollback import alert, deploy_bad_release, flow_catalog, notes
from tests.test_runbook_actions import HOST, form, load, report
from tests.test_slack_approval import SIGNING_SECRET, callback, post

REPO = "acme/shop"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def source(**github: Any) -> ReleaseSource:
    return ReleaseSource.model_validate(
        {
            "github": {"environment": "production", **github},
            "window_s": 600,
            "action": "rollback",
            "parameter": "release",
        }
    )


def deploy(
    standin: GitHubStandIn,
    ref: str,
    at: datetime,
    states: list[str],
    environment: str = "production",
) -> int:
    item = standin.add_deployment(REPO, ref, environment=environment, at=at)
    for offset, state in enumerate(states, start=1):
        standin.add_deployment_status(REPO, item.id, state, at=at + timedelta(seconds=30 * offset))
    return item.id


async def read(
    standin: GitHubStandIn, releases: ReleaseSource, token: str | None = None
) -> ReleaseRead:
    repository = Repository(owner="acme", name="shop", api_base_url=standin.base_url)  # type: ignore[arg-type]
    return await read_github_releases(
        repository,
        releases,
        GitHubToken(SecretStr(token or standin.token), "environment variable GITHUB_TOKEN"),
        ClientSettings.unpaced(),
    )


async def test_current_is_the_newest_successful_deployment_previous_the_one_before(
    github_standin: GitHubStandIn,
) -> None:
    github_standin.add_repo(REPO)
    deploy(github_standin, "v1", T0, ["in_progress", "success", "inactive"])
    deploy(github_standin, "v2", T0 + timedelta(hours=1), ["in_progress", "failure"])
    deploy(github_standin, "v3", T0 + timedelta(hours=2), ["success", "inactive"])
    deploy(github_standin, "v4", T0 + timedelta(hours=3), ["in_progress", "success"])
    deploy(github_standin, "v5", T0 + timedelta(hours=4), ["in_progress", "error"])
    deploy(github_standin, "v6", T0 + timedelta(hours=5), ["queued"])
    deploy(github_standin, "v9", T0 + timedelta(hours=6), ["success"], environment="staging")

    result = await read(github_standin, source())

    assert result.error is None and result.listing is not None
    listing = result.listing
    assert listing.current == "v4"
    assert listing.deployed_at == T0 + timedelta(hours=3, seconds=60)
    previous = listing.previous()
    assert previous is not None and previous.id == "v3"
    assert previous.created_at == T0 + timedelta(hours=2, seconds=30)
    assert result.via == "github" and result.where == (
        "GitHub deployments of acme/shop environment production"
    )
    queries = [q for m, p, q in github_standin.requests if p.endswith("/deployments")]
    assert queries and all("environment=production" in q for q in queries)
    assert github_standin.violations == []


async def test_redeploying_the_current_ref_is_not_a_previous_release(
    github_standin: GitHubStandIn,
) -> None:
    github_standin.add_repo(REPO)
    deploy(github_standin, "v1", T0, ["success", "inactive"])
    deploy(github_standin, "v2", T0 + timedelta(hours=1), ["success", "inactive"])
    deploy(github_standin, "v2", T0 + timedelta(hours=2), ["success"])

    listing = (await read(github_standin, source())).listing

    assert listing is not None and listing.current == "v2"
    previous = listing.previous()
    assert previous is not None and previous.id == "v1"
    assert github_standin.violations == []


async def test_sha_as_release_id_and_a_single_deployment_has_no_previous(
    github_standin: GitHubStandIn,
) -> None:
    github_standin.add_repo(REPO)
    sha = "a" * 40
    github_standin.add_deployment(REPO, "main", sha=sha, at=T0)
    (only,) = github_standin.repo(REPO).deployments
    github_standin.add_deployment_status(REPO, only, "success", at=T0 + timedelta(seconds=5))

    listing = (await read(github_standin, source(release="sha"))).listing

    assert listing is not None and listing.current == sha and listing.previous() is None
    assert github_standin.violations == []


@pytest.mark.parametrize(
    ("which", "bad"),
    [
        ("current", "$(touch pwned)"),
        ("previous", "v1;id"),
        ("previous", "-rf"),
        ("current", "v2\nrm"),
    ],
)
async def test_hostile_refs_are_refused_naming_the_deployment(
    github_standin: GitHubStandIn, which: str, bad: str
) -> None:
    github_standin.add_repo(REPO)
    older = deploy(
        github_standin, bad if which == "previous" else "v1", T0, ["success", "inactive"]
    )
    newer = deploy(
        github_standin, bad if which == "current" else "v2", T0 + timedelta(hours=1), ["success"]
    )
    hostile = newer if which == "current" else older

    result = await read(github_standin, source())

    assert result.listing is None and result.error is not None
    assert result.error.startswith(f"deployments refused: deployment {hostile}: release id ")
    assert repr(bad) in result.error
    assert github_standin.violations == []


async def test_no_successful_deployment_bad_token_and_unknown_repository(
    github_standin: GitHubStandIn,
) -> None:
    github_standin.add_repo(REPO)
    deploy(github_standin, "v1", T0, ["failure"])
    deploy(github_standin, "v2", T0 + timedelta(hours=1), ["success", "inactive"])

    nothing = await read(github_standin, source())
    assert nothing.error is not None and "has a latest status of success" in nothing.error

    refused = await read(github_standin, source(), token="ghs_wrong")
    assert refused.error == (
        "GitHub refused the token from environment variable GITHUB_TOKEN reading"
        f" the deployments of acme/shop at {github_standin.base_url}"
    )
    assert "ghs_wrong" not in refused.model_dump_json()
    assert github_standin.violations == []


def github_service(**change: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "checks": ["app"],
        "hosts": [{k: v for k, v in HOST.items() if v is not None}],
        "repository": {"owner": "acme", "name": "shop"},
        "actions": [
            {
                "name": "rollback",
                "description": "Switch to an earlier release",
                "risk": "medium",
                "parameters": [
                    {"name": "release", "kind": "string", "pattern": "v[0-9]+", "default": "v1"}
                ],
                "run": ["svc", "rollback", "{release}"],
            }
        ],
        "releases": {
            "github": {"environment": "production"},
            "window_s": 600,
            "action": "rollback",
            "parameter": "release",
        },
        **change,
    }


def test_catalog_accepts_a_github_source(tmp_path: Path) -> None:
    catalog = load(tmp_path, {"services": [github_service()]})
    releases = catalog.services[0].releases
    assert releases is not None and releases.github is not None
    assert releases.github.release == "ref" and releases.command is None


@pytest.mark.parametrize(
    ("releases_change", "service_change", "message"),
    [
        ({"command": ["svc", "releases"]}, {}, "exactly one of command or github"),
        ({"github": None}, {}, "exactly one of command or github"),
        ({"host": "app-1"}, {}, "host applies to command only"),
        ({}, {"repository": None}, "github needs the service's repository"),
        ({"github": {"environment": "prod\nuction"}}, {}, "environment"),
        ({"github": {"environment": "production", "release": "tag"}}, {}, "release"),
    ],
)
def test_catalog_refuses_bad_github_sources(
    tmp_path: Path,
    releases_change: dict[str, Any],
    service_change: dict[str, Any],
    message: str,
) -> None:
    service = github_service(**service_change)
    service["releases"] = {**service["releases"], **releases_change}
    if releases_change.get("github", ...) is None:
        del service["releases"]["github"]
    with pytest.raises(CatalogError) as error:
        load(tmp_path, {"services": [service]})
    assert message in str(error.value)


# --- the flow, with releases from the stand-in and the rollback over a real sshd ---------


def deployments_catalog(check_id: str, sim: SimService, standin: GitHubStandIn) -> dict[str, Any]:
    catalog = flow_catalog(check_id, sim)
    service = catalog["services"][0]
    service["repository"] = {"owner": "acme", "name": "shop", "api_base_url": standin.base_url}
    service["releases"] = {
        "github": {"environment": "production"},
        "window_s": 600,
        "action": "rollback",
        "parameter": "release",
    }
    return catalog


def deployed_on_github(standin: GitHubStandIn, live_for_s: float) -> None:
    assert standin.token == TOKEN
    standin.add_repo(REPO)
    now = datetime.now(UTC)
    deploy(standin, "v1", now - timedelta(days=1), ["success", "inactive"])
    v2 = standin.add_deployment(REPO, "v2", at=now - timedelta(seconds=live_for_s + 30))
    standin.add_deployment_status(REPO, v2.id, "success", at=now - timedelta(seconds=live_for_s))


async def test_flow_proposes_rollback_to_v1_when_v2_went_live_a_minute_before_the_alert(
    fix_runner: FixRunner,
    sim_service: SimService,
    github_standin: GitHubStandIn,
    webhook_sink: WebhookSink,
    tmp_path: Path,
) -> None:
    """The rollback is announced on Slack with buttons and rejected there."""
    check = "rollback-github"
    deploy_bad_release(sim_service, live_for_s=60)
    deployed_on_github(github_standin, live_for_s=60)
    catalog = deployments_catalog(check, sim_service, github_standin)
    catalog["approval"]["slack_users"] = {"U0ALICE": "alice"}
    catalog["notifications"] = {"channels": [{"kind": "slack", "url": webhook_sink.url("/slack")}]}
    fix_runner.write_catalog(catalog)
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")
    [waiting] = [
        m for m in webhook_sink.bodies("/slack") if any(b["type"] == "actions" for b in m["blocks"])
    ]
    assert waiting["text"].startswith("Runbook action rollback waiting for approval")

    shown = form(fix_runner, run_id)
    assert "`rollback`" in shown and "release=v1" in shown and "rollback v1" in shown
    text = notes(fix_runner, check)
    assert f"Deployment rollback proposed: `sim-{check}` from `v2` to `v1`." in text
    assert "within the rollback window of 600 s" in text
    assert sim_service.actions() == ["start"]

    settings = config(
        tmp_path,
        fix_runner.api_url,
        slack_signing_secret=SIGNING_SECRET,
        decision_key=DECISION_KEY,
        slack_response_url_prefix=webhook_sink.url("/"),
    )
    async with running_gateway(settings, Catalog.model_validate(catalog)) as gateway:
        reject = callback(waiting, "U0ALICE", "remediate-reject", webhook_sink.url("/response"))
        assert (await post(gateway, reject)).status_code == 200
        run = fix_runner.wait_for(run_id, "Completed")
    assert webhook_sink.bodies("/response")[-1]["text"] == "Rejected by alice"
    assert "rejected by alice through slack (verified identity U0ALICE)" in fix_runner.logs(run_id)
    assert "rollback-from:v2" in run["tags"] and "rollback-to:v1" in run["tags"]
    assert "GitHub deployments of `acme/shop environment production`" in report(fix_runner, run_id)
    assert sim_service.current() == "releases/v2"
    assert github_standin.violations == []


async def test_flow_proposes_nothing_when_v2_went_live_outside_the_window(
    fix_runner: FixRunner, sim_service: SimService, github_standin: GitHubStandIn
) -> None:
    check = "rollback-github-outside"
    deploy_bad_release(sim_service, live_for_s=7_200)
    deployed_on_github(github_standin, live_for_s=7_200)
    fix_runner.write_catalog(deployments_catalog(check, sim_service, github_standin))
    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert not any(t.startswith("rollback") for t in run["tags"])
    assert "Deployment rollback proposed" not in notes(fix_runner, check)
    artifact = report(fix_runner, run_id)
    assert "Status: **not-proposed**" in artifact
    assert "outside the rollback window of 600 s" in artifact
    assert sim_service.actions() == ["start"]
    assert github_standin.violations == []
