"""An HTTP runbook action: method, URL, headers and JSON body, all from the catalog.

Parameters may fill a whole path segment, a whole query value or a whole JSON string in
the body, never the scheme, host, port or a query key; path and query values are
URL-encoded, and a path value may not be ``.``, ``..`` or hold ``/``. A header value is
a catalog literal or comes from an environment variable named in the catalog, so a token
is never written in the catalog and never shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Literal, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

PLACEHOLDER = re.compile(r"^\{([a-z][a-z0-9_]{0,30})\}$")
HEADER_NAME = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
_SECRET_HEADER = re.compile(r"(?i)(authorization|cookie|token|secret|key|passw|auth)")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
StatusCode = Annotated[int, Field(ge=100, le=599)]


class HttpSecretMissing(Exception):
    """A header's environment variable is not set; the message names the header and variable."""


class PathSegmentError(ValueError):
    """A parameter value would change the path's shape (``/``, ``.`` or ``..``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpHeader(_Strict):
    name: str = Field(pattern=HEADER_NAME)
    value: str | None = Field(default=None, max_length=1_000, description="A literal value.")
    env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="Environment variable of the worker holding the value, e.g. a token.",
    )
    prefix: str = Field(
        default="", max_length=50, description="Put before the variable's value, e.g. 'Bearer '."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        where = f"header {self.name}"
        if (self.value is None) == (self.env is None):
            raise ValueError(f"{where}: give exactly one of value or env")
        if self.name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{where}: this header is set by the HTTP client")
        if self.value is not None and _SECRET_HEADER.search(self.name):
            raise ValueError(f"{where}: a credential header takes its value from env, not value")
        if self.prefix and self.env is None:
            raise ValueError(f"{where}: prefix applies only with env")
        if _CONTROL.search(self.value or "") or _CONTROL.search(self.prefix):
            raise ValueError(f"{where}: control characters are not allowed")
        return self

    @property
    def shown(self) -> str:
        """The header as proposals and reports show it: the variable's name, never its value."""
        if self.env is not None:
            return f"{self.name}: {self.prefix}${self.env}"
        return f"{self.name}: {self.value}"

    def resolve(self, environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
        """(header value, the secret in it or None)."""
        if self.env is None:
            return self.value or "", None
        secret = (os.environ if environ is None else environ).get(self.env, "")
        if not secret:
            raise HttpSecretMissing(
                f"header {self.name}: environment variable {self.env} is not set"
            )
        if _CONTROL.search(secret):
            raise HttpSecretMissing(
                f"header {self.name}: environment variable {self.env} holds control characters"
            )
        return self.prefix + secret, secret


def _split_query(query: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for piece in query.split("&") if query else []:
        key, sep, value = piece.partition("=")
        pairs.append((key, value if sep else None))
    return pairs


def _literal_or_placeholder(text: str, where: str) -> str | None:
    """The parameter name when ``text`` is a whole placeholder; refuses partial ones."""
    match = PLACEHOLDER.match(text)
    if match:
        return match.group(1)
    if "{" in text or "}" in text:
        raise ValueError(f"{where}: a placeholder must be the whole value, got {text!r}")
    return None


def _body_strings(value: JsonValue, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _body_strings(item, where)]
    if isinstance(value, dict):
        for key in value:
            if "{" in key or "}" in key:
                raise ValueError(f"{where}: body keys are literals, got {key!r}")
        return [s for item in value.values() for s in _body_strings(item, where)]
    return []


class HttpCall(_Strict):
    method: Method
    url: str = Field(
        max_length=2_000,
        description="http(s) URL; a {parameter} may be a whole path segment or query value.",
    )
    headers: list[HttpHeader] = Field(default_factory=list)
    body: JsonValue = Field(
        default=None, description="JSON body; a string that is a whole {parameter} is filled."
    )
    expected_status: list[StatusCode] = Field(default_factory=lambda: [200, 202, 204], min_length=1)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, url: str) -> str:
        if _UNSAFE_URL.search(url):
            raise ValueError("url must not hold spaces, control characters or backslashes")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"url must be http or https, got {parts.scheme!r}")
        if "{" in parts.netloc or "}" in parts.netloc:
            raise ValueError("a parameter may not fill the scheme, host or port")
        if "@" in parts.netloc:
            raise ValueError("credentials in the url are refused; use a header with env")
        if not parts.hostname:
            raise ValueError("url needs a host")
        if parts.fragment or url.endswith("#"):
            raise ValueError("url must not have a fragment")
        for segment in parts.path.split("/"):
            _literal_or_placeholder(segment, "url path")
        for key, value in _split_query(parts.query):
            if "{" in key or "}" in key:
                raise ValueError(f"url query: keys are literals, got {key!r}")
            if value is not None:
                _literal_or_placeholder(value, "url query")
        return url

    @model_validator(mode="after")
    def _unique_headers(self) -> Self:
        names = [h.name.lower() for h in self.headers]
        if len(set(names)) != len(names):
            raise ValueError("header names must be unique")
        if self.body is not None and self.method in ("GET", "DELETE"):
            raise ValueError(f"a {self.method} request has no body")
        for text in _body_strings(self.body, "body"):
            _literal_or_placeholder(text, "body")
        return self

    def placeholders(self) -> list[str]:
        parts = urlsplit(self.url)
        texts = parts.path.split("/")
        texts += [v for _, v in _split_query(parts.query) if v is not None]
        texts += _body_strings(self.body, "body")
        return [m.group(1) for t in texts if (m := PLACEHOLDER.match(t))]

    def url_for(self, values: Mapping[str, str]) -> str:
        """The URL with checked parameter values URL-encoded into their segments and values."""
        parts = urlsplit(self.url)
        segments = []
        for segment in parts.path.split("/"):
            name = _literal_or_placeholder(segment, "url path")
            if name is None:
                segments.append(segment)
                continue
            if values[name] in (".", "..") or "/" in values[name]:
                raise PathSegmentError(
                    f"parameter {name}: {values[name]!r} cannot be a path segment"
                    " ('/', '.' and '..' are refused)"
                )
            segments.append(quote(values[name], safe=""))
        pairs = []
        for key, value in _split_query(parts.query):
            name = None if value is None else _literal_or_placeholder(value, "url query")
            if value is None:
                pairs.append(key)
            else:
                pairs.append(f"{key}={value if name is None else quote(values[name], safe='')}")
        return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "&".join(pairs), ""))

    def body_for(self, values: Mapping[str, str | int]) -> JsonValue:
        def fill(value: JsonValue) -> JsonValue:
            if isinstance(value, str):
                match = PLACEHOLDER.match(value)
                return values[match.group(1)] if match else value
            if isinstance(value, list):
                return [fill(item) for item in value]
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            return value

        return fill(self.body)
