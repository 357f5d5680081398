"""Where GitHub's OpenAPI description disagrees with GitHub itself, handled in one place.

Each gap is narrow: it names the operation or schema it applies to and changes nothing else.

1. ``state_reason: null``. GitHub sends ``"state_reason": null`` on issues that were never
   closed; the description marks the property nullable but its ``enum`` lacks ``null``, so
   every fresh issue would fail. ``patch_description`` adds ``null`` to that one enum.
2. Bare label array. ``POST /repos/{owner}/{repo}/issues/{issue_number}/labels`` accepts a
   bare JSON array of names (the operation's own description says so, and PyGithub's
   ``add_to_labels`` sends one) but the schema lists only ``{"labels": [...]}``.
   ``request_body_for_validation`` validates such an array as ``{"labels": <array>}``.
3. ``{branch}`` containing ``/``. GitHub serves ``/branches/remediate/alert-1``; the path
   template ``/branches/{branch}`` cannot match it. ``path_for_validation`` re-encodes the
   slashes of that one segment as ``%2F`` before matching.
4. Errors every operation can answer. GitHub answers 401 (bad credentials) and 404 (a
   repository that does not exist or is hidden) on any operation, while many operations do
   not list those statuses. The same holds for rate limits (403 with ``Retry-After``,
   429) and server errors (500, 502, 503), documented for the API as a whole rather than
   per operation. ``GENERIC_ERROR_STATUSES`` lets such an undeclared status be validated
   against the ``basic-error`` schema instead.

The search API's ``search_type`` gap is not listed because the stand-in serves no search.
"""

from __future__ import annotations

import json
import re
from typing import Any

GENERIC_ERROR_STATUSES = frozenset({401, 403, 404, 429, 500, 502, 503})
GENERIC_ERROR_SCHEMA = "basic-error"

_ISSUE_LABELS = re.compile(r"^/repos/[^/]+/[^/]+/issues/[0-9]+/labels$")
_BRANCH = re.compile(r"^(/repos/[^/]+/[^/]+/branches/)(.+)$")


def patch_description(spec: dict[str, Any]) -> dict[str, Any]:
    state_reason = spec["components"]["schemas"]["issue"]["properties"]["state_reason"]
    if None not in state_reason["enum"]:
        state_reason["enum"] = [*state_reason["enum"], None]
    return spec


def request_body_for_validation(method: str, path: str, body: bytes) -> bytes:
    if method.upper() != "POST" or not _ISSUE_LABELS.match(path) or not body:
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if isinstance(parsed, list):
        return json.dumps({"labels": parsed}).encode()
    return body


def path_for_validation(path: str) -> str:
    match = _BRANCH.match(path)
    if match is None:
        return path
    return match.group(1) + match.group(2).replace("/", "%2F")
