"""What an intake fault must leave true, and a sender that behaves as monitors do.

Every alert a sender was told was accepted (202) started exactly one run; an alert refused
with 503 was not recorded, and the sender's retry after it is accepted once. Runs are
counted in Prefect by fingerprint tag, so two runs for one alert are seen, whatever the
outbox says.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.gateway import bearer, runs_with_tag, sentinel_check, signed_headers


@dataclass
class Sent:
    """One alert and every answer the gateway gave it, in order."""

    check_id: str
    path: str
    body: dict[str, Any]
    signed: bool
    answers: list[httpx.Response] = field(default_factory=list)

    @property
    def codes(self) -> list[int]:
        return [a.status_code for a in self.answers]

    @property
    def accepted(self) -> bool:
        return 202 in self.codes

    @property
    def fingerprint(self) -> str:
        for answer in self.answers:
            if answer.status_code == 202:
                return str(answer.json()["alerts"][0]["fingerprint"])
        raise AssertionError(f"{self.check_id} was never accepted: {self.codes}")


@dataclass
class Sender:
    """Posts alerts to a gateway over HTTP; after a 503 the sender sends the same alert again,
    as Alertmanager and Sentinel's webhook alerter do."""

    url: str
    sent: list[Sent] = field(default_factory=list)
    prefix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def new_alert(self, padding: int = 0, signed: bool = True) -> Sent:
        check_id = f"F{len(self.sent)}-{self.prefix}"
        if signed:
            details = {"padding": "x" * padding} if padding else {}
            body = sentinel_check(check_id, details=details)
            alert = Sent(check_id, "/v1/alerts/sentinel", body, True)
        else:
            body = {"id": f"{check_id}-1", "check_id": check_id, "summary": "fault test"}
            alert = Sent(check_id, "/v1/alerts/generic", body, False)
        self.sent.append(alert)
        return alert

    async def post(self, alert: Sent) -> httpx.Response:
        raw = json.dumps(alert.body).encode()
        headers = (
            signed_headers(raw) if alert.signed else bearer() | {"Content-Type": "application/json"}
        )
        async with httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=30) as client:
            response = await client.post(alert.path, content=raw, headers=headers)
        alert.answers.append(response)
        return response

    async def until_accepted(self, alert: Sent, timeout: float = 60) -> httpx.Response:
        """Send again until the gateway answers 202 (new or duplicate)."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.post(alert)
            if response.status_code == 202:
                return response
            assert_refused_for_retry(response)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{alert.check_id} still refused: {alert.codes}")
            await asyncio.sleep(0.2)


def assert_refused_for_retry(response: httpx.Response) -> None:
    """A refusal while storage fails: 503, a Retry-After, and a detail saying so."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert int(response.headers["Retry-After"]) > 0
    assert "outbox unavailable" in response.json()["detail"]


async def assert_each_alert_started_one_run(prefect_api: str, alerts: list[Sent]) -> None:
    """Nothing lost (every accepted alert has a run), nothing doubled (never two)."""
    counts = {
        a.check_id: len(await runs_with_tag(prefect_api, f"fingerprint:{a.fingerprint}"))
        for a in alerts
    }
    assert counts == dict.fromkeys(counts, 1), counts


def assert_answer_once_recorded(alert: Sent, refused_means_unrecorded: bool) -> None:
    """Across all its answers, an alert was recorded as new exactly once. With SQLite a 503
    recorded nothing, so the first 202 after it is the new one; with a database across a
    network, a commit whose acknowledgement was lost may make the retry a duplicate."""
    accepted = [a.json() for a in alert.answers if a.status_code == 202]
    assert sum(a["accepted"] for a in accepted) == 1, (alert.check_id, alert.codes, accepted)
    if refused_means_unrecorded and alert.codes[0] == 503:
        assert accepted[0]["accepted"] == 1, (alert.check_id, accepted)
