"""`remediate send` -> deployment run in a real runner process -> issue in the GitHub stand-in.

The runner reads the GitHub token from a Prefect Secret block named in the catalog, as a
production deployment would.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect.blocks.system import Secret

from tests.github_standin import GitHubStandIn
from tests.support.http_services import Service
from tests.support.stack import Runner
from tests.test_end_to_end import send, sentinel, wait_for_run

REPO = "acme/e2e-web"
CHECK = "E2E-github"
BLOCK = "e2e-github-token"


def recurrence_comments(bodies: list[str]) -> list[str]:
    return [b for b in bodies if "\nFired again" in b]


def test_alert_to_github_issue_then_comment(
    remediate_runner: Runner,
    github_standin: GitHubStandIn,
    http_service: Service,
    tmp_path: Path,
) -> None:
    github_standin.add_repo(REPO)
    Secret(value=github_standin.token).save(BLOCK, overwrite=True)
    http_service.set(status=500)
    remediate_runner.write_catalog(
        {
            "services": [
                {
                    "name": "e2e-web",
                    "checks": [CHECK],
                    "health": [{"url": http_service.health_url}],
                    "repository": {
                        "owner": "acme",
                        "name": "e2e-web",
                        "api_base_url": github_standin.base_url,
                    },
                }
            ],
            "verification": {"attempts": 1, "interval_s": 0},
            "policy": {"critical": {"collect_logs": False, "propose_fix": False}},
            "tracker": {"kind": "github", "token_block": BLOCK},
        }
    )

    first = json.loads(send(remediate_runner, sentinel(10, CHECK), tmp_path).stdout)
    run = wait_for_run(remediate_runner.api_url, first["flow_run_id"])
    assert run["state_type"] == "COMPLETED", remediate_runner.log.read_text()[-3000:]
    (issue,) = github_standin.issues(REPO)
    assert issue.body is not None and first["flow_run_id"] in issue.body
    assert {"remediate", f"check:{CHECK}", "service:e2e-web"} <= set(issue.labels)

    second = json.loads(send(remediate_runner, sentinel(11, CHECK), tmp_path).stdout)
    run = wait_for_run(remediate_runner.api_url, second["flow_run_id"])
    assert run["state_type"] == "COMPLETED", remediate_runner.log.read_text()[-3000:]
    (issue,) = github_standin.issues(REPO)
    assert len(recurrence_comments([c.body for c in issue.comments])) == 1
    assert github_standin.token not in remediate_runner.log.read_text()
    assert github_standin.violations == []
