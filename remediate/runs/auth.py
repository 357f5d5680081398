"""The Prefect API credential: the basic-auth string Prefect's own clients send.

Prefect's open-source server checks one shared ``user:password`` string
(``PREFECT_SERVER_API_AUTH_STRING``); its clients send ``PREFECT_API_AUTH_STRING``. The
project's own REST clients send the same header, so one variable configures them all.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

CLIENT_AUTH_ENV = "PREFECT_API_AUTH_STRING"
SERVER_AUTH_ENV = "PREFECT_SERVER_API_AUTH_STRING"
UNAUTHORIZED_HINT = (
    "the Prefect API refused the credentials (HTTP 401): set PREFECT_API_AUTH_STRING "
    "to the server's user:password (`make up` keeps it in .remediate/secrets.env)"
)


class APIAuthError(ValueError):
    """A malformed credential; the message never contains the credential."""


def check_auth_string(value: str, where: str = CLIENT_AUTH_ENV) -> str:
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise APIAuthError(f"{where} must have the form user:password")
    if any(ch.isspace() for ch in user) or any(ord(ch) < 32 for ch in value):
        raise APIAuthError(f"{where}: the user may not contain spaces or control characters")
    return value


def auth_string(env: Mapping[str, str] | None = None) -> str | None:
    """The client credential from the environment, ``None`` when unset."""
    value = (os.environ if env is None else env).get(CLIENT_AUTH_ENV) or None
    return check_auth_string(value) if value is not None else None


def auth_headers(credential: str | None) -> dict[str, str]:
    """The ``Authorization`` header Prefect's server expects, or none without a credential."""
    if credential is None:
        return {}
    check_auth_string(credential)
    token = base64.b64encode(credential.encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}
