"""Time of one GitHub tracker write against the local GitHub stand-in.

Measures opening an issue and commenting on it, with PyGithub's production pacing and
without it, so the cost of pacing (GitHub's secondary rate-limit rules) is visible next to
the stand-in's own cost (which includes validating every exchange).

Usage: .venv/bin/python bench/github_tracker.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediate.catalog import Repository  # noqa: E402
from remediate.trackers.base import IssueDraft  # noqa: E402
from remediate.trackers.github import ClientSettings, GitHubTracker  # noqa: E402
from remediate.trackers.token import GitHubToken  # noqa: E402
from tests.github_standin import GitHubStandIn  # noqa: E402


def draft(fingerprint: str, occurrence: str) -> IssueDraft:
    return IssueDraft(
        fingerprint=fingerprint,
        occurrence_key=f"{fingerprint}:{occurrence}",
        title="[critical] check on service: HTTP 500",
        body="report " * 500,
        comment="fired again",
        labels=["remediate", "severity:critical"],
    )


def measure(standin: GitHubStandIn, client: ClientSettings, rounds: int, tag: str) -> None:
    repository = Repository(owner="acme", name="bench", api_base_url=standin.base_url)  # type: ignore[arg-type]
    token = GitHubToken(SecretStr(standin.token), "bench")
    opened, commented = [], []
    for n in range(rounds):
        tracker = GitHubTracker(repository, token, client=client)
        fingerprint = f"{tag}{n}"
        start = time.perf_counter()
        tracker.open_or_update(draft(fingerprint, "a"), datetime.now(UTC))
        opened.append(time.perf_counter() - start)
        start = time.perf_counter()
        tracker.open_or_update(draft(fingerprint, "b"), datetime.now(UTC))
        commented.append(time.perf_counter() - start)
    print(
        f"{tag:8} open median {statistics.median(opened):.3f} s, max {max(opened):.3f} s;"
        f" comment median {statistics.median(commented):.3f} s, max {max(commented):.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with GitHubStandIn() as standin:
        standin.add_repo("acme/bench")
        start = time.perf_counter()
        measure(standin, ClientSettings.unpaced(), args.rounds, "unpaced")
        measure(standin, ClientSettings(), args.rounds, "paced")
        requests = len(standin.requests)
        elapsed = time.perf_counter() - start
        print(
            f"stand-in: {requests} requests, {len(standin.violations)} violations, {elapsed:.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
