"""Remediation run history read from the Prefect REST API: runs, artifacts, task runs, states."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from remediate.alerts import utc
from remediate.runs.auth import UNAUTHORIZED_HINT, auth_headers, auth_string
from remediate.runs.tags import Key, tag_value

FLOW = "remediate-alert"
PAGE = 200
ARTIFACT_KEYS = ("incident-issue", "incident-report", "fix-diff")
TASKS = ("propose-fix", "open-pull-request")


class HistoryError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


class RunRecord(BaseModel):
    """What history says about one remediation run."""

    model_config = ConfigDict(frozen=True)

    id: str
    created: datetime
    state_type: str
    tags: list[str]
    fingerprint: str | None = None
    service: str | None = None
    occurrences: int = 1
    verdict: str | None = None
    self_resolved: bool = False
    fired_at: datetime | None = None
    issue_at: datetime | None = None
    fix_status: str | None = None
    fix_session_s: float | None = None
    fix_proposed_at: datetime | None = None
    approval: str | None = None
    suspended_at: datetime | None = None
    resumed_at: datetime | None = None
    pull_request_at: datetime | None = None
    artifacts: dict[str, datetime] = Field(default_factory=dict)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return utc(datetime.fromisoformat(value))


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:2000]


class History:
    def __init__(self, api_url: str, timeout: float = 30.0, credential: str | None = None) -> None:
        """``credential`` (``user:password``) defaults to ``PREFECT_API_AUTH_STRING``."""
        self.api_url = api_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.api_url,
            timeout=timeout,
            trust_env=False,
            headers=auth_headers(credential or auth_string()),
        )

    async def __aenter__(self) -> History:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise HistoryError(None, f"Prefect API at {self.api_url} unreachable: {exc}") from exc
        if response.status_code == 401:
            raise HistoryError(401, f"{self.api_url}: {UNAUTHORIZED_HINT}")
        if response.status_code != 200:
            raise HistoryError(response.status_code, f"{path}: {_detail(response)}")
        rows: list[dict[str, Any]] = response.json()
        return rows

    async def _paged(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            page = await self._post(path, {**body, "limit": PAGE, "offset": len(rows)})
            rows += page
            if len(page) < PAGE:
                return rows

    async def flow_runs(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return await self._paged(
            "/flow_runs/filter",
            {
                "flows": {"name": {"any_": [FLOW]}},
                "flow_runs": {
                    "expected_start_time": {
                        "after_": since.isoformat(),
                        "before_": until.isoformat(),
                    }
                },
                "sort": "EXPECTED_START_TIME_ASC",
            },
        )

    async def artifacts(self, run_ids: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), PAGE):
            found += await self._paged(
                "/artifacts/filter",
                {
                    "artifacts": {
                        "flow_run_id": {"any_": run_ids[start : start + PAGE]},
                        "key": {"any_": list(ARTIFACT_KEYS)},
                    },
                    "sort": "ID_DESC",
                },
            )
        return found

    async def task_runs(self, run_ids: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), PAGE):
            found += await self._paged(
                "/task_runs/filter",
                {
                    "flow_runs": {"id": {"any_": run_ids[start : start + PAGE]}},
                    "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
                },
            )
        return [t for t in found if any(_named(t, name) for name in TASKS)]

    async def states(self, run_id: str) -> list[dict[str, Any]]:
        try:
            response = await self._client.get("/flow_run_states/", params={"flow_run_id": run_id})
        except httpx.HTTPError as exc:
            raise HistoryError(None, f"Prefect API at {self.api_url} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise HistoryError(response.status_code, f"flow run states: {_detail(response)}")
        rows: list[dict[str, Any]] = response.json()
        return sorted(rows, key=lambda s: str(s.get("timestamp")))

    async def records(self, since: datetime, until: datetime) -> list[RunRecord]:
        runs = await self.flow_runs(since, until)
        ids = [str(r["id"]) for r in runs]
        artifacts = await self.artifacts(ids)
        tasks = await self.task_runs(ids)
        records = []
        for run in runs:
            run_id = str(run["id"])
            mine = [a for a in artifacts if str(a.get("flow_run_id")) == run_id]
            my_tasks = [t for t in tasks if str(t.get("flow_run_id")) == run_id]
            states = await self.states(run_id) if _was_suspended(run, mine) else []
            records.append(build_record(run, mine, my_tasks, states))
        return records


async def read_records(
    api_url: str, since: datetime, until: datetime, credential: str | None = None
) -> list[RunRecord]:
    """The remediation runs expected to start between ``since`` and ``until``."""
    async with History(api_url, credential=credential) as history:
        return await history.records(since, until)


def _named(task_run: dict[str, Any], name: str) -> bool:
    return str(task_run.get("name", "")).startswith(f"{name}-")


def _was_suspended(run: dict[str, Any], artifacts: list[dict[str, Any]]) -> bool:
    return any(a.get("key") == "fix-diff" for a in artifacts)


def _first(artifacts: list[dict[str, Any]]) -> dict[str, tuple[datetime, str]]:
    firsts: dict[str, tuple[datetime, str]] = {}
    for artifact in artifacts:
        created = _time(artifact.get("created"))
        key = str(artifact.get("key"))
        if created is not None and (key not in firsts or created < firsts[key][0]):
            firsts[key] = (created, str(artifact.get("description") or ""))
    return firsts


def _suspension(states: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None]:
    suspended = resumed = None
    for state in states:
        when = _time(state.get("timestamp"))
        if state.get("type") == "PAUSED" and suspended is None:
            suspended = when
        elif suspended is not None and state.get("type") != "PAUSED":
            resumed = when
            break
    return suspended, resumed


def _duration(task_run: dict[str, Any]) -> float | None:
    start, end = _time(task_run.get("start_time")), _time(task_run.get("end_time"))
    return (end - start).total_seconds() if start and end else None


def _fired_at(run: dict[str, Any]) -> datetime | None:
    """When the monitoring side says the alert fired (the run's ``alert`` parameter)."""
    alert = (run.get("parameters") or {}).get("alert")
    return _time(alert.get("fired_at")) if isinstance(alert, dict) else None


def build_record(
    run: dict[str, Any],
    artifacts: list[dict[str, Any]],
    task_runs: list[dict[str, Any]],
    states: list[dict[str, Any]],
) -> RunRecord:
    tags = [str(t) for t in run.get("tags", [])]
    firsts = _first(artifacts)
    occurrences = tag_value(tags, Key.OCCURRENCES)
    report = firsts.get("incident-report")
    proposals = [t for t in task_runs if _named(t, "propose-fix")]
    pulls = [t for t in task_runs if _named(t, "open-pull-request")]
    suspended, resumed = _suspension(states)
    created = _time(run.get("created")) or _time(run.get("expected_start_time"))
    if created is None:
        raise HistoryError(None, f"flow run {run.get('id')} has no creation time")
    return RunRecord(
        id=str(run["id"]),
        created=created,
        state_type=str(run.get("state_type") or ""),
        tags=tags,
        fingerprint=tag_value(tags, Key.FINGERPRINT),
        service=tag_value(tags, Key.SERVICE),
        occurrences=int(occurrences) if occurrences and occurrences.isdigit() else 1,
        verdict=tag_value(tags, Key.VERDICT),
        self_resolved=report is not None and report[1] == "self-resolved",
        fired_at=_fired_at(run),
        issue_at=firsts["incident-issue"][0] if "incident-issue" in firsts else None,
        fix_status=tag_value(tags, Key.FIX),
        fix_session_s=_duration(proposals[0]) if proposals else None,
        fix_proposed_at=firsts["fix-diff"][0] if "fix-diff" in firsts else None,
        approval=tag_value(tags, Key.APPROVAL),
        suspended_at=suspended,
        resumed_at=resumed,
        pull_request_at=_time(pulls[0].get("end_time")) if pulls else None,
        artifacts={k: v[0] for k, v in firsts.items()},
    )
