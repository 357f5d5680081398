from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.alerts import Severity
from remediate.catalog import Catalog, CatalogError, load_catalog
from tests.support.gateway import config, running_gateway, sentinel_check
from tests.support.gateway_policy import (
    START,
    check_held_alerts_expire,
    check_threshold_across_restart,
    fingerprint_runs,
    threshold_catalog,
)


def flapping_catalog(transitions: int = 4, window_s: float = 900) -> Catalog:
    return Catalog.model_validate(
        {"gateway": {"flapping": {"transitions": transitions, "window_s": window_s}}}
    )


def generic(fingerprint: str, n: int, status: str) -> dict[str, Any]:
    return {
        "id": f"flap-{n}",
        "check_id": "disk-full",
        "service": "api",
        "severity": "warning",
        "status": status,
        "summary": "disk 97% full",
        "fingerprint": fingerprint,
    }


def test_catalog_accepts_thresholds_and_flapping() -> None:
    catalog = Catalog.model_validate(
        {
            "gateway": {
                "max_new_per_minute": 10,
                "thresholds": [
                    {"checks": ["S2-*"], "severity": "warning", "occurrences": 3, "window_s": 600}
                ],
                "flapping": {"transitions": 4, "window_s": 900},
            }
        }
    )
    rules = catalog.gateway
    assert rules.flapping is not None and rules.flapping.transitions == 4
    assert rules.threshold_for("S2-recall", Severity.WARNING) == rules.thresholds[0]
    assert rules.threshold_for("S1-probes", Severity.WARNING) is None
    assert rules.threshold_for("S2-recall", Severity.CRITICAL) is None


@pytest.mark.parametrize(
    ("gateway", "path"),
    [
        ({"thresholds": [{"checks": ["S2-*"], "occurrences": 0, "window_s": 60}]}, "occurrences"),
        ({"thresholds": [{"occurrences": 3}]}, "window_s"),
        ({"thresholds": [{"occurrences": 3, "window_s": 60, "every": 1}]}, "every"),
        ({"flapping": {"transitions": 1, "window_s": 60}}, "gateway.flapping.transitions"),
        ({"flapping": {"transitions": 4, "window_s": -1}}, "gateway.flapping.window_s"),
    ],
)
def test_catalog_errors_name_the_key_path(tmp_path: Path, gateway: Any, path: str) -> None:
    import yaml

    file = tmp_path / "remediate.yaml"
    file.write_text(yaml.safe_dump({"gateway": gateway}), encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        load_catalog(file)
    message = str(error.value)
    assert path in message
    if "thresholds" in gateway:
        assert "gateway.thresholds.0" in message


async def test_nth_occurrence_within_the_window_starts_one_run_after_a_restart(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    cfg = config(tmp_path, prefect_server, signature_tolerance_s=1e9)
    await check_threshold_across_restart(cfg, prefect_server)


async def test_held_alerts_spread_beyond_the_window_expire_and_start_nothing(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    cfg = config(tmp_path, prefect_server, signature_tolerance_s=1e9)
    await check_held_alerts_expire(cfg, prefect_server)


async def test_other_checks_start_at_once_under_a_threshold(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    cfg = config(tmp_path, prefect_server, signature_tolerance_s=1e9)
    async with running_gateway(cfg, threshold_catalog()) as gw:
        response = await gw.post_signed(
            "/v1/alerts/sentinel", sentinel_check(f"S1-probes-{uuid.uuid4().hex[:8]}")
        )
        counts = await gw.drained()
        assert counts == counts | {"held": 0, "delivered": 1}
    fingerprint = response.json()["alerts"][0]["fingerprint"]
    assert len(await fingerprint_runs(prefect_server, fingerprint)) == 1


async def test_flapping_sequence_across_a_restart_gives_one_run_tagged_flapping(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    now = [START]
    fingerprint = f"flap-{uuid.uuid4().hex}"
    sequence = ["firing", "resolved", "firing", "resolved", "firing", "resolved", "firing"]
    cfg = config(tmp_path, prefect_server)
    catalog = flapping_catalog()
    for part in (range(3), range(3, len(sequence))):
        async with running_gateway(cfg, catalog, clock=lambda: now[0]) as gw:
            for i in part:
                response = await gw.post_token(
                    "/v1/alerts/generic", generic(fingerprint, i // 2, sequence[i])
                )
                assert response.status_code == 202, response.text
                await gw.drained()
                now[0] += 60
            runs = await fingerprint_runs(prefect_server, fingerprint)
            assert len(runs) == 1
    run = (await fingerprint_runs(prefect_server, fingerprint))[0]
    assert "flapping" in run["tags"]
    assert "occurrences:4" in run["tags"]


async def cancel(prefect_server: str, run_id: str) -> None:
    async with httpx.AsyncClient(base_url=prefect_server, timeout=30) as client:
        response = await client.post(
            f"/flow_runs/{run_id}/set_state",
            json={"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True},
        )
        assert response.status_code in (200, 201), response.text


async def test_flapping_after_runs_finish_starts_one_flapping_run_not_one_per_transition(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    now = [START]
    fingerprint = f"flap-{uuid.uuid4().hex}"
    cfg = config(tmp_path, prefect_server)

    async def send(gw: Any, i: int, status: str) -> None:
        response = await gw.post_token("/v1/alerts/generic", generic(fingerprint, i, status))
        assert response.status_code == 202, response.text
        await gw.drained()
        now[0] += 60

    async with running_gateway(cfg, flapping_catalog(transitions=2), clock=lambda: now[0]) as gw:
        await send(gw, 0, "firing")
        (first,) = await fingerprint_runs(prefect_server, fingerprint)
        await cancel(prefect_server, first["id"])
        await send(gw, 0, "resolved")
        await send(gw, 1, "firing")
        runs = await fingerprint_runs(prefect_server, fingerprint)
        assert len(runs) == 2
        (flapping,) = [r for r in runs if r["id"] != first["id"]]
        assert {"flapping", "flapping-transitions:2", "flapping-window-s:900"} <= set(
            flapping["tags"]
        )
        await cancel(prefect_server, flapping["id"])
        await send(gw, 1, "resolved")
        await send(gw, 2, "firing")
        await send(gw, 2, "resolved")
        await send(gw, 3, "firing")
    runs = await fingerprint_runs(prefect_server, fingerprint)
    assert len(runs) == 2
    tagged = [r for r in runs if "flapping" in r["tags"]]
    assert [r["id"] for r in tagged] == [flapping["id"]]
    assert "occurrences:3" in tagged[0]["tags"]
