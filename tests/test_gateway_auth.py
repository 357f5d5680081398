from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from remediate.gateway.auth import (
    SIGNATURE_HEADER,
    Unauthorized,
    sign,
    verify_grafana_signature,
    verify_signature,
    verify_token,
)
from tests.support.gateway import (
    OLD_SECRET,
    SECRET,
    TOKEN,
    config,
    payload,
    running_gateway,
    sentinel_check,
    signed_headers,
)
from tests.support.processes import free_port

NOW = 1_800_000_000
BODY = b'{"check_id": "S1-probes"}'


def reason(header: str | None, body: bytes = BODY, now: float = NOW) -> str | None:
    try:
        verify_signature(header, body, [SECRET, OLD_SECRET], now, 300)
    except Unauthorized as exc:
        return exc.reason
    return None


def test_signature_cases() -> None:
    good = sign(SECRET, NOW, BODY)
    assert reason(good) is None
    assert reason(sign(OLD_SECRET, NOW, BODY)) is None
    assert reason(sign("wrong", NOW, BODY)) == "bad_signature"
    assert reason(good, body=BODY + b" ") == "bad_signature"
    assert reason(good, now=NOW + 301) == "stale_signature"
    assert reason(good, now=NOW - 301) == "stale_signature"
    assert reason(good, now=NOW + 300) is None
    # a stale timestamp is named only once the signature is valid
    assert reason(sign("wrong", NOW, BODY), now=NOW + 301) == "bad_signature"
    assert reason(None) == "missing_signature"
    assert reason("") == "missing_signature"
    assert reason("v1=abc") == "malformed_signature"
    assert reason(f"t={NOW}") == "malformed_signature"
    assert reason(f"t=-{NOW},v1=00") == "malformed_signature"
    digest = good.split("v1=")[1]
    assert reason(f"t={NOW},v1=deadbeef,v1={digest}") is None
    assert reason(f"t={NOW + 1},v1={digest}") == "bad_signature"


def test_grafana_signature_with_and_without_timestamp() -> None:
    plain = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    verify_grafana_signature(plain, None, BODY, [SECRET], NOW, 300, timestamp_required=False)
    stamped = hmac.new(SECRET.encode(), f"{NOW}:".encode() + BODY, hashlib.sha256).hexdigest()
    verify_grafana_signature(stamped, str(NOW), BODY, [SECRET], NOW, 300, timestamp_required=True)
    with pytest.raises(Unauthorized):
        verify_grafana_signature(plain, str(NOW), BODY, [SECRET], NOW, 300, timestamp_required=True)
    with pytest.raises(Unauthorized):
        verify_grafana_signature(
            stamped, str(NOW), BODY, [SECRET], NOW + 400, 300, timestamp_required=True
        )
    with pytest.raises(Unauthorized):
        verify_grafana_signature(None, None, BODY, [SECRET], NOW, 300, timestamp_required=False)


def test_token_schemes() -> None:
    basic = base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()
    for header in (f"Bearer {TOKEN}", f"token {TOKEN}", f"Basic {basic}"):
        verify_token(header, ["other", TOKEN])
    for header in (None, "", "Bearer", f"Bearer {TOKEN}x", "Digest abc", "Basic !!!", f"{TOKEN}"):
        with pytest.raises(Unauthorized):
            verify_token(header, [TOKEN])
    with pytest.raises(Unauthorized):
        verify_token(f"Bearer {TOKEN}", [])


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


async def test_sentinel_endpoint_answers(
    tmp_path: Path, unreachable_prefect: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        body = json.dumps(sentinel_check()).encode()
        url = "/v1/alerts/sentinel"

        async def post(headers: dict[str, str], content: bytes = body) -> int:
            response = await gw.client.post(url, content=content, headers=headers)
            if response.status_code == 401:
                detail = response.json()["detail"]
                # only a validly signed request learns why: its timestamp is out of tolerance
                valid_but_stale = "outside the tolerance of 300 s" in detail
                assert detail == "authentication failed" or valid_but_stale, detail
            return response.status_code

        now = time.time()
        assert await post(signed_headers(body)) == 202
        assert await post(signed_headers(body)) == 202  # replay inside the window: duplicate
        assert await post(signed_headers(body, secret=OLD_SECRET)) == 202
        assert await post(signed_headers(body, secret="not-configured")) == 401
        assert await post(signed_headers(body), content=body.replace(b"500", b"501")) == 401
        # well outside the 300 s tolerance, so a slow machine cannot bring them back inside
        assert await post(signed_headers(body, at=now - 330)) == 401
        assert await post(signed_headers(body, at=now + 330)) == 401
        assert await post({"Content-Type": "application/json"}) == 401
        assert await post({SIGNATURE_HEADER: "garbage"}) == 401
        counts = await gw.outbox()
        assert counts["pending"] == 1
        metrics = (await gw.client.get("/metrics")).text
        assert 'remediate_gateway_rejected_total{reason="auth_bad_signature"} 2.0' in metrics
        assert 'remediate_gateway_rejected_total{reason="auth_stale_signature"} 2.0' in metrics
        assert 'remediate_gateway_deduplicated_total{kind="delivery"} 2.0' in metrics
    logged = caplog.text
    assert SECRET not in logged and OLD_SECRET not in logged
    assert sign(SECRET, int(now), body).split("v1=")[1] not in logged


async def test_rotation_accepts_both_secrets_and_several_signatures(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        body = json.dumps(sentinel_check()).encode()
        stamp = int(time.time())
        old = sign(OLD_SECRET, stamp, body).split("v1=")[1]
        new = sign(SECRET, stamp, body).split("v1=")[1]
        header = f"t={stamp},v1={'0' * 64},v1={new},v1={old}"
        response = await gw.client.post(
            "/v1/alerts/sentinel", content=body, headers={SIGNATURE_HEADER: header}
        )
        assert response.status_code == 202


async def test_dispatch_endpoint_exactly_as_sentinel_sends(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        headers = {
            "Authorization": f"token {TOKEN}",
            "Accept": "application/vnd.github.v3+json",
            "User-Agent": "Veris-Sentinel-Webhook/1.0",
            "Content-Type": "application/json",
        }
        url = "/repos/credentum/veris-memory/dispatches"
        body = payload("sentinel_dispatch.json")
        response = await gw.client.post(url, json=body, headers=headers)
        assert response.status_code == 204
        assert response.content == b""
        bearer = {**headers, "Authorization": f"Bearer {TOKEN}"}
        assert (await gw.client.post(url, json=body, headers=bearer)).status_code == 204
        wrong = {**headers, "Authorization": "token nope"}
        assert (await gw.client.post(url, json=body, headers=wrong)).status_code == 401
        assert (await gw.client.post(url, json=body)).status_code == 401
        other = {**body, "event_type": "push"}
        response = await gw.client.post(url, json=other, headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "event_type"
        assert (await gw.outbox())["pending"] == 1


async def test_alertmanager_basic_and_bearer(tmp_path: Path, unreachable_prefect: str) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        url = "/v1/alerts/alertmanager"
        body = payload("alertmanager_firing.json")
        basic = base64.b64encode(f"am:{TOKEN}".encode()).decode()
        response = await gw.client.post(url, json=body, headers={"Authorization": f"Basic {basic}"})
        assert response.status_code == 202
        assert response.json()["accepted"] == 2
        response = await gw.post_token(url, body)
        assert response.json() == response.json() | {"accepted": 0, "duplicates": 2}
        bad = base64.b64encode(b"am:wrong").decode()
        response = await gw.client.post(url, json=body, headers={"Authorization": f"Basic {bad}"})
        assert response.status_code == 401


async def test_grafana_hmac_configurable_header(tmp_path: Path, unreachable_prefect: str) -> None:
    cfg = config(
        tmp_path,
        unreachable_prefect,
        grafana_signature_header="X-Grafana-Alerting-Signature",
        grafana_timestamp_header="X-Grafana-Alerting-Signature-Timestamp",
    )
    async with running_gateway(cfg) as gw:
        raw = json.dumps(payload("grafana.json")).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(SECRET.encode(), stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        headers = {
            "X-Grafana-Alerting-Signature": digest,
            "X-Grafana-Alerting-Signature-Timestamp": stamp,
        }
        url = "/v1/alerts/grafana"
        assert (await gw.client.post(url, content=raw, headers=headers)).status_code == 202
        tampered = raw.replace(b"us-1", b"us-2")
        assert (await gw.client.post(url, content=tampered, headers=headers)).status_code == 401
        assert (await gw.post_token(url, payload("grafana.json"))).status_code == 401
    async with running_gateway(config(tmp_path / "plain", unreachable_prefect)) as gw:
        response = await gw.post_token("/v1/alerts/grafana", payload("grafana.json"))
        assert response.status_code == 202
