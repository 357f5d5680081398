"""Property-based fuzzing of the gateway's HTTP API from its own OpenAPI document."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from remediate.gateway.app import create_app
from remediate.gateway.config import GatewayConfig
from remediate.trackers import IssueDraft
from remediate.trackers.local import LocalTracker
from tests.support.gateway import bearer, signed_headers, start_gateway_process
from tests.support.processes import free_port, http_ok, stop, wait_until

ISSUE_READER = "reader:fuzz-pass"


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir: Path = tmp_path_factory.mktemp("gateway-fuzz")
    port = free_port()
    unreachable_prefect = f"http://127.0.0.1:{free_port()}/api"
    tracker = LocalTracker(data_dir / "issues")
    for n in range(3):
        key = f"fuzz-{n}"
        draft = IssueDraft(fingerprint=key, occurrence_key=key, title="t", body="b", comment="c")
        tracker.open_or_update(draft, datetime(2026, 1, 1, tzinfo=UTC))
    process = start_gateway_process(
        data_dir,
        unreachable_prefect,
        port,
        REMEDIATE_GATEWAY_RATE_LIMIT="0",
        PREFECT_API_AUTH_STRING=ISSUE_READER,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ok(f"{url}/healthz"), 60, "gateway")
        yield url
    finally:
        stop(process)


def _schema() -> schemathesis.BaseSchema:
    document = create_app(GatewayConfig()).openapi()
    return schemathesis.openapi.from_dict(document)


SCHEMA = _schema()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_gateway_api_never_fails_on_generated_requests(
    operation: APIOperation, gateway_url: str
) -> None:
    statuses: set[int] = set()

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def exchange(case: schemathesis.Case) -> None:
        if case.method == "POST" and case.path == "/v1/alerts/sentinel":
            raw = json.dumps(case.body).encode()
            response = httpx.post(
                gateway_url + case.formatted_path,
                content=raw,
                headers=signed_headers(raw),
                trust_env=False,
                timeout=30,
            )
            case.validate_response(response, checks=CHECKS)
        elif case.path.startswith("/issues/"):
            reader = base64.b64encode(ISSUE_READER.encode()).decode()
            headers = {"Authorization": f"Basic {reader}"}
            response = case.call_and_validate(base_url=gateway_url, headers=headers, checks=CHECKS)
        else:
            response = case.call_and_validate(base_url=gateway_url, headers=bearer(), checks=CHECKS)
        statuses.add(response.status_code)

    exchange()
    assert any(200 <= status < 300 for status in statuses), statuses
