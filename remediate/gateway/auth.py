"""Request authentication: HMAC signatures and ingest tokens, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Remediate-Signature"


class Unauthorized(Exception):
    """Authentication failed. The reason is for metrics; the client is told only ``public``,
    set for a request signed with a valid secret whose timestamp is out of tolerance (its
    sender holds the secret: what is wrong is a clock)."""

    def __init__(self, reason: str, public: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.public = public


def stale_timestamp(timestamp: float, now: float, tolerance_s: float) -> Unauthorized | None:
    """The refusal of a validly signed request whose timestamp is too far from ``now``."""
    offset = timestamp - now
    if abs(offset) <= tolerance_s:
        return None
    return Unauthorized(
        "stale_signature",
        f"signature timestamp is {offset:+.0f} s from the gateway's clock, outside the"
        f" tolerance of {tolerance_s:.0f} s; check the clocks of the sender and the gateway",
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Remediate-Signature`` value a sender attaches to ``body``."""
    return f"t={timestamp},v1={_digest(secret, f'{timestamp}.'.encode() + body)}"


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _hex_candidates(candidates: Sequence[str]) -> list[bytes]:
    """Header values as bytes; anything but ASCII is refused here, since comparing a
    non-ASCII ``str`` in constant time raises."""
    if not all(c.isascii() for c in candidates):
        raise Unauthorized("malformed_signature")
    return [c.strip().lower().encode("ascii") for c in candidates]


def _first_match(secrets: Sequence[str], message: bytes, candidates: Sequence[str]) -> int | None:
    """The index of the secret one candidate was made with; every pair is compared."""
    encoded = _hex_candidates(candidates)
    matched: int | None = None
    for index, secret in enumerate(secrets):
        expected = _digest(secret, message).encode("ascii")
        for candidate in encoded:
            if hmac.compare_digest(expected, candidate) and matched is None:
                matched = index
    return matched


def verify_signature(
    header: str | None, body: bytes, secrets: Sequence[str], now: float, tolerance_s: float
) -> int:
    """Check ``t=<unix>,v1=<hex>[,v1=<hex>...]`` over ``"{t}.{body}"`` against every secret;
    returns the index of the secret that signed it."""
    if not secrets:
        raise Unauthorized("no_secret_configured")
    if not header:
        raise Unauthorized("missing_signature")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value[:128])
    if timestamp is None or not candidates:
        raise Unauthorized("malformed_signature")
    matched = _first_match(secrets, f"{timestamp}.".encode() + body, candidates[:8])
    if matched is None:
        raise Unauthorized("bad_signature")
    stale = stale_timestamp(timestamp, now, tolerance_s)
    if stale is not None:
        raise stale
    return matched


def verify_grafana_signature(
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: float,
    tolerance_s: float,
    timestamp_required: bool,
) -> int:
    """Grafana's HMAC-SHA256 hex over the body, or over ``"{ts}:{body}"`` with a timestamp;
    returns the index of the secret that signed it."""
    if not secrets:
        raise Unauthorized("no_secret_configured")
    if not signature:
        raise Unauthorized("missing_signature")
    message = body
    if timestamp_required:
        if (
            not timestamp
            or not timestamp.isascii()
            or not timestamp.isdigit()
            or len(timestamp) > 16
        ):
            raise Unauthorized("malformed_signature")
        seconds = int(timestamp)
        if seconds > 10**11:
            seconds //= 1000
        message = timestamp.encode() + b":" + body
    matched = _first_match(secrets, message, [signature[:128]])
    if matched is None:
        raise Unauthorized("bad_signature")
    if timestamp_required:
        stale = stale_timestamp(seconds, now, tolerance_s)
        if stale is not None:
            raise stale
    return matched


def verify_body_signature(
    values: Sequence[str], body: bytes, secrets: Sequence[str], prefix: str = ""
) -> int:
    """Hex HMAC-SHA256 of the raw body, as PagerDuty (``v1=<hex>``, comma-separated, several
    during its key rotation) and Sentry (bare hex) send it; ``prefix`` is the scheme each
    value must carry. Returns the index of the secret that signed it."""
    if not secrets:
        raise Unauthorized("no_secret_configured")
    candidates = [v.strip()[len(prefix) :] for v in values if v.strip().startswith(prefix)]
    candidates = [c for c in candidates if c]
    if not candidates:
        raise Unauthorized("missing_signature" if not any(values) else "malformed_signature")
    matched = _first_match(secrets, body, [c[:128] for c in candidates[:8]])
    if matched is None:
        raise Unauthorized("bad_signature")
    return matched


def verify_token(authorization: str | None, tokens: Sequence[str]) -> int:
    """``Authorization: Bearer <t>``, ``token <t>`` (GitHub style) or ``Basic`` with the
    token as password; returns the index of the matching token."""
    if not tokens:
        raise Unauthorized("no_token_configured")
    if not authorization:
        raise Unauthorized("missing_token")
    scheme, _, credential = authorization.strip().partition(" ")
    scheme = scheme.lower()
    credential = credential.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credential, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed_token") from None
        credential = decoded.partition(":")[2]
    elif scheme not in ("bearer", "token"):
        raise Unauthorized("malformed_token")
    if not credential:
        raise Unauthorized("malformed_token")
    presented = credential.encode("utf-8", "surrogateescape")
    matched: int | None = None
    for index, token in enumerate(tokens):
        if hmac.compare_digest(token.encode(), presented) and matched is None:
            matched = index
    if matched is None:
        raise Unauthorized("bad_token")
    return matched
