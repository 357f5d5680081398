"""What the product payloads share: validation into field-named errors, safe fingerprints."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from remediate.alerts import Alert, NotAnAlert
from remediate.gateway.formats import PayloadError, clip, require_object

FINGERPRINT = re.compile(r"^[0-9a-zA-Z_.:-]{1,128}$")
IDENTIFIER = r"^[0-9a-zA-Z_.:-]{1,128}$"
"""Ids a product gives its incidents and events; used as fingerprints and alert ids."""

Model = TypeVar("Model", bound=BaseModel)


class Acknowledged(NotAnAlert):
    """Someone acknowledged the incident: answered, counted and recorded on its run and
    issue, never a run or a resolution. ``incident`` is the incident as an alert (its
    fingerprint finds the run), ``event_id`` the product's id for this acknowledgement."""

    def __init__(
        self, message: str, incident: Alert, who: str, at: datetime, event_id: str
    ) -> None:
        super().__init__(message)
        self.incident = incident
        self.who = who
        self.at = at
        self.event_id = event_id


def validated(model: type[Model], payload: Any, field: str = "") -> Model:
    """``payload`` as ``model``; ``field`` is where the payload sits in the body."""
    try:
        return model.model_validate(require_object(payload, field or "body"))
    except ValidationError as exc:
        raise PayloadError.from_validation(exc, prefix=field) from exc


def built(make: Callable[[], Alert], field: str = "body") -> Alert:
    """The alert, with a validation error reported against ``field``."""
    try:
        return make()
    except ValidationError as exc:
        raise PayloadError.from_validation(exc, prefix=field) from exc


def hashed_key(prefix: str, value: str) -> str:
    """A fingerprint for a free-text key (an Opsgenie alias): any characters, fixed shape."""
    return f"{prefix}-{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def tag_labels(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """``key:value`` tags as labels, each bounded; the first value of a key wins."""
    labels: dict[str, str] = {}
    for key, value in pairs[:100]:
        key = clip(key.strip(), 200)
        if key and key not in labels:
            labels[key] = clip(value.strip(), 1000)
    return labels


def split_tags(tags: list[str]) -> list[tuple[str, str]]:
    """Product tags (``key:value`` strings) as pairs; one without a colon is a bare key."""
    pairs = []
    for item in tags:
        key, _, value = item.partition(":")
        pairs.append((key, value))
    return pairs
