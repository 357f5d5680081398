"""Validate every exchange with the stand-in against GitHub's OpenAPI description."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.github_standin import gaps

DESCRIPTION = Path(__file__).with_name("api.github.com.pruned.json")
GITHUB_HOST = "https://api.github.com"


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    message: str


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


@cache
def _description() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    return gaps.patch_description(spec)


@cache
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(_description())


@cache
def _generic_error_validator() -> OAS30Validator:
    schemas = _description()["components"]["schemas"]
    return OAS30Validator(schemas[gaps.GENERIC_ERROR_SCHEMA])


def _describe(error: Exception) -> str:
    schema_errors = list(getattr(error.__cause__, "schema_errors", None) or [])
    if not schema_errors:
        return f"{type(error).__name__}: {_short(str(error))}"
    details = []
    for schema_error in schema_errors:
        where = "/".join(str(p) for p in getattr(schema_error, "absolute_path", ()))
        message = getattr(schema_error, "message", str(schema_error))
        details.append(f"{where or '(root)'}: {_short(message)}")
    name = getattr(error, "name", None)
    subject = f"{type(error).__name__} {name}" if isinstance(name, str) else type(error).__name__
    return f"{subject}: " + "; ".join(details)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Validator:
    """Checks requests and responses; keeps every violation found."""

    def __init__(self) -> None:
        self._openapi = _openapi()
        self._lock = threading.Lock()
        self.violations: list[Violation] = []

    def record(self, method: str, path: str, message: str) -> None:
        with self._lock:
            self.violations.append(Violation(method.upper(), path, message))

    def check(
        self,
        *,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
        status: int,
        response_headers: dict[str, str],
        response_body: bytes,
    ) -> None:
        request = _Request(
            host_url=GITHUB_HOST,
            path=gaps.path_for_validation(path),
            method=method.lower(),
            body=gaps.request_body_for_validation(method, path, body) if body else None,
            content_type=headers.get("content-type", "application/json").lower(),
            parameters=RequestParameters(query=ImmutableMultiDict(query), header=Headers(headers)),
        )
        for error in self._openapi.iter_request_errors(request):
            self.record(method, path, f"request: {_describe(error)}")
        response = _Response(
            status_code=status,
            content_type=response_headers.get("content-type", "application/json").lower(),
            headers=Headers(response_headers),
            data=response_body or None,
        )
        for error in self._openapi.iter_response_errors(request, response):
            if isinstance(error, ResponseNotFound) and status in gaps.GENERIC_ERROR_STATUSES:
                self._check_generic_error(method, path, response_body)
                continue
            self.record(method, path, f"response {status}: {_describe(error)}")

    def _check_generic_error(self, method: str, path: str, body: bytes) -> None:
        try:
            document = json.loads(body)
        except ValueError as exc:
            self.record(method, path, f"error response is not JSON: {exc}")
            return
        for error in _generic_error_validator().iter_errors(document):
            self.record(method, path, f"error response: {error.message}")
