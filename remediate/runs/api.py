"""The few Prefect REST calls that start and list remediation runs, without importing Prefect."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, NamedTuple

import httpx
from pydantic import BaseModel

from remediate.alerts import Alert
from remediate.runs.auth import UNAUTHORIZED_HINT, auth_headers, auth_string
from remediate.runs.names import run_name
from remediate.runs.tags import DEPLOYMENT, Flag, Key, alert_tags, merged, tag

TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})


class RunState(NamedTuple):
    """A run's state type (``SCHEDULED``, ``COMPLETED``...) and, once it is final, when it
    ended (epoch seconds, the Prefect server's clock)."""

    type: str
    ended_at: float | None = None

    @classmethod
    def of(cls, run: dict[str, Any]) -> RunState:
        kind = str(run.get("state_type") or "")
        end = run.get("end_time")
        ended = datetime.fromisoformat(end).timestamp() if end and kind in TERMINAL_STATES else None
        return cls(kind, ended)

    @property
    def open(self) -> bool:
        return self.type not in TERMINAL_STATES

    def open_at(self, moment: float) -> bool:
        """Whether the run was still under way at ``moment`` (epoch seconds)."""
        return self.open or (self.ended_at is not None and moment <= self.ended_at)


class PrefectAPIError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status


class CreatedRun(BaseModel):
    id: str
    name: str
    created: bool


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:2000]
    return str(body)[:2000]


class PrefectAPI:
    def __init__(
        self,
        api_url: str,
        timeout: float = 10.0,
        attempts: int = 1,
        credential: str | None = None,
    ) -> None:
        """``attempts`` > 1 retries transport failures and 5xx answers with backoff: every
        call here is safe to repeat (run creation carries an idempotency key).
        ``credential`` (``user:password``) defaults to ``PREFECT_API_AUTH_STRING``."""
        self.attempts = max(1, attempts)
        self.api_url = api_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.api_url,
            timeout=timeout,
            trust_env=False,
            headers=auth_headers(credential or auth_string()),
        )
        self._deployments: dict[str, str] = {}

    async def __aenter__(self) -> PrefectAPI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                response = await self._client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if last:
                    raise PrefectAPIError(
                        None, f"Prefect API at {self.api_url} unreachable: {exc}"
                    ) from exc
            else:
                if response.status_code == 401:
                    raise PrefectAPIError(401, f"{self.api_url}: {UNAUTHORIZED_HINT}")
                if response.status_code < 500 or last:
                    return response
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def deployment_id(self, name: str = DEPLOYMENT) -> str:
        if name not in self._deployments:
            response = await self._request("GET", f"/deployments/name/{name}")
            if response.status_code == 404:
                raise PrefectAPIError(404, f"deployment {name} not found; is the stack up?")
            if response.status_code != 200:
                raise PrefectAPIError(response.status_code, _detail(response))
            self._deployments[name] = str(response.json()["id"])
        return self._deployments[name]

    async def submit_alert(
        self, alert: Alert, deployment: str = DEPLOYMENT, extra_tags: tuple[str, ...] = ()
    ) -> CreatedRun:
        """Create the alert's run; the same occurrence submitted again returns the same run."""
        deployment_id = await self.deployment_id(deployment)
        response = await self._request(
            "POST",
            f"/deployments/{deployment_id}/create_flow_run",
            json={
                "parameters": {"alert": alert.model_dump(mode="json")},
                "tags": [*alert_tags(alert), *extra_tags],
                "idempotency_key": alert.occurrence_key,
                "name": run_name(alert),
            },
        )
        if response.status_code not in (200, 201):
            raise PrefectAPIError(response.status_code, _detail(response))
        body = response.json()
        return CreatedRun(
            id=str(body["id"]), name=str(body["name"]), created=response.status_code == 201
        )

    async def flow_runs(self, tags: list[str], limit: int = 50) -> list[dict[str, Any]]:
        response = await self._request(
            "POST",
            "/flow_runs/filter",
            json={
                "flows": {"name": {"any_": ["remediate-alert"]}},
                "flow_runs": {"tags": {"all_": tags}},
                "sort": "START_TIME_DESC",
                "limit": limit,
            },
        )
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        runs: list[dict[str, Any]] = response.json()
        return runs

    async def waiting_runs(self, limit: int = 200) -> list[dict[str, Any]]:
        """Runs suspended for a decision (fix, runbook action or capacity action)."""
        waiting = [Flag.AWAITING_APPROVAL.value, Flag.AWAITING_CAPACITY_APPROVAL.value]
        response = await self._request(
            "POST",
            "/flow_runs/filter",
            json={
                "flow_runs": {
                    "tags": {"any_": waiting},
                    "state": {"type": {"any_": ["PAUSED"]}},
                },
                "sort": "EXPECTED_START_TIME_ASC",
                "limit": limit,
            },
        )
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        runs: list[dict[str, Any]] = response.json()
        return runs

    async def flow_run(self, run_id: str) -> dict[str, Any]:
        response = await self._request("GET", f"/flow_runs/{run_id}")
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        run: dict[str, Any] = response.json()
        return run

    async def flow_run_states(self, run_ids: list[str]) -> dict[str, RunState]:
        """The state of each existing run, by id."""
        states: dict[str, RunState] = {}
        for start in range(0, len(run_ids), 200):
            chunk = run_ids[start : start + 200]
            response = await self._request(
                "POST",
                "/flow_runs/filter",
                json={"flow_runs": {"id": {"any_": chunk}}, "limit": len(chunk)},
            )
            if response.status_code != 200:
                raise PrefectAPIError(response.status_code, _detail(response))
            for run in response.json():
                states[str(run["id"])] = RunState.of(run)
        return states

    async def set_occurrence_tags(
        self, run_id: str, occurrences: int, resolved: bool, flapping: bool = False
    ) -> None:
        """Record on a run how often its alert recurred, whether the sender resolved it and
        whether it is flapping."""
        run = await self.flow_run(run_id)
        add = [tag(Key.OCCURRENCES, occurrences)]
        add += [Flag.ALERT_RESOLVED] if resolved else []
        add += [Flag.FLAPPING] if flapping else []
        current = [str(t) for t in run.get("tags", [])]
        tags = merged(current, add, replace=[Key.OCCURRENCES])
        response = await self._request("PATCH", f"/flow_runs/{run_id}", json={"tags": tags})
        if response.status_code not in (200, 204):
            raise PrefectAPIError(response.status_code, _detail(response))

    async def link_artifacts(self, run_ids: list[str]) -> dict[str, str]:
        """The issue link of each run, by run id."""
        if not run_ids:
            return {}
        response = await self._request(
            "POST",
            "/artifacts/filter",
            json={
                "artifacts": {
                    "flow_run_id": {"any_": run_ids},
                    "key": {"any_": ["incident-issue"]},
                },
                "limit": 200,
            },
        )
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        links: dict[str, str] = {}
        for artifact in response.json():
            data = artifact.get("data")
            run = artifact.get("flow_run_id")
            if run and isinstance(data, str) and "](" in data:
                links[str(run)] = data.split("](", 1)[1].rstrip(")")
        return links

    async def artifacts_with_key(
        self, key: str, offset: int = 0, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Every version of the artifacts named ``key``, newest first, one page."""
        response = await self._request(
            "POST",
            "/artifacts/filter",
            json={
                "artifacts": {"key": {"any_": [key]}},
                "sort": "CREATED_DESC",
                "offset": offset,
                "limit": limit,
            },
        )
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        found: list[dict[str, Any]] = response.json()
        return found

    async def create_artifact(self, body: dict[str, Any]) -> None:
        response = await self._request("POST", "/artifacts/", json=body)
        if response.status_code not in (200, 201):
            raise PrefectAPIError(response.status_code, _detail(response))

    async def flow_runs_by_id(self, run_ids: list[str]) -> list[dict[str, Any]]:
        if not run_ids:
            return []
        response = await self._request(
            "POST",
            "/flow_runs/filter",
            json={"flow_runs": {"id": {"any_": run_ids}}, "limit": len(run_ids)},
        )
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        runs: list[dict[str, Any]] = response.json()
        return runs

    async def flow_run_input(self, run_id: str, key: str) -> str | None:
        response = await self._request("GET", f"/flow_runs/{run_id}/input/{key}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        return response.text

    async def set_flow_run_input(self, run_id: str, key: str, value: str) -> None:
        """Create (or replace) the run input ``key``."""
        await self.delete_flow_run_input(run_id, key)
        response = await self._request(
            "POST", f"/flow_runs/{run_id}/input", json={"key": key, "value": value}
        )
        if response.status_code not in (200, 201, 204):
            raise PrefectAPIError(response.status_code, _detail(response))

    async def delete_flow_run_input(self, run_id: str, key: str) -> None:
        response = await self._request("DELETE", f"/flow_runs/{run_id}/input/{key}")
        if response.status_code not in (200, 204, 404):
            raise PrefectAPIError(response.status_code, _detail(response))

    async def resume_flow_run(self, run_id: str, run_input: dict[str, Any]) -> tuple[bool, str]:
        """(accepted, the server's reason when it refused). The server answers 200 with
        status REJECT when the input does not fit the run's form."""
        response = await self._request(
            "POST", f"/flow_runs/{run_id}/resume", json={"run_input": run_input}
        )
        if response.status_code not in (200, 201):
            raise PrefectAPIError(response.status_code, _detail(response))
        body: dict[str, Any] = response.json()
        status = str(body.get("status", "")).upper()
        reason = str((body.get("details") or {}).get("reason") or "no reason given")
        return status == "ACCEPT", "" if status == "ACCEPT" else f"{status}: {reason}"

    async def log_to_run(self, run_id: str, level: int, message: str, logger: str) -> None:
        """A line in the run's log, as the run's own lines are (the UI's Logs tab)."""
        entry = {
            "name": logger,
            "level": level,
            "message": message,
            "timestamp": datetime.now(UTC).isoformat(),
            "flow_run_id": run_id,
        }
        response = await self._request("POST", "/logs/", json=[entry])
        if response.status_code not in (200, 201, 204):
            raise PrefectAPIError(response.status_code, _detail(response))

    async def variable(self, name: str) -> Any | None:
        """The value of the Prefect variable ``name``; None when it does not exist."""
        response = await self._request("GET", f"/variables/name/{name}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PrefectAPIError(response.status_code, _detail(response))
        return response.json().get("value")

    async def create_variable(self, name: str, value: Any) -> bool:
        """Create ``name``; False when it already exists (its value unchanged)."""
        response = await self._request("POST", "/variables/", json={"name": name, "value": value})
        if response.status_code == 409:
            return False
        if response.status_code not in (200, 201):
            raise PrefectAPIError(response.status_code, _detail(response))
        return True

    async def delete_variable(self, name: str) -> bool:
        """Delete ``name``; False when it did not exist."""
        response = await self._request("DELETE", f"/variables/name/{name}")
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 204):
            raise PrefectAPIError(response.status_code, _detail(response))
        return True
