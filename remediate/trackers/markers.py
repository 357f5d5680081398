"""Hidden markers that make tracker writes idempotent, signed so that only our own count.

A marker is an HTML comment, ``<!-- remediate:occurrence=VALUE sig=HMAC -->``, where the
HMAC-SHA256 covers the kind and the value. Markers count only in the header of a body or
comment: the lines before the first line that is not a marker. Everything remediate writes
after the header (alert text, logs, model output) is untrusted, so a marker planted there
is never read, and one without a valid signature never counts anywhere.

The key is ``REMEDIATE_MARKER_KEY`` when set. Without it, the GitHub tracker derives a key
from its token (rotating the token then makes earlier markers unreadable, so each earlier
write happens once more), and the local tracker generates one into a file beside its
issues.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from remediate.trackers.errors import TrackerConfigError

MARKER_KEY_ENV = "REMEDIATE_MARKER_KEY"
MIN_KEY_LENGTH = 32
FINGERPRINT = "fingerprint"
OCCURRENCE = "occurrence"
_SIG_HEX = 32
_LINE = re.compile(
    r"<!-- remediate:(?P<kind>[a-z]+)=(?P<value>[A-Za-z0-9._:/%-]+)"
    rf" sig=(?P<sig>[0-9a-f]{{{_SIG_HEX}}}) -->"
)


def encoded(value: str) -> str:
    """``value`` with everything outside a plain charset percent-encoded, so no text it
    holds (``-->``, spaces, newlines) can end the comment or change how it parses."""
    return quote(value, safe="._:/-")


class MarkerSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_LENGTH:
            raise TrackerConfigError(f"a marker key needs at least {MIN_KEY_LENGTH} bytes")
        self._key = key

    @classmethod
    def from_env(cls, fallback: bytes | None = None) -> MarkerSigner:
        """``REMEDIATE_MARKER_KEY`` if set, else ``fallback``."""
        configured = os.environ.get(MARKER_KEY_ENV, "").strip()
        if configured:
            if len(configured) < MIN_KEY_LENGTH:
                raise TrackerConfigError(
                    f"{MARKER_KEY_ENV} is {len(configured)} characters long; it needs at least"
                    f" {MIN_KEY_LENGTH} (e.g. `openssl rand -hex 32`)"
                )
            return cls(configured.encode())
        if fallback is None:
            raise TrackerConfigError(f"no marker key: set {MARKER_KEY_ENV}")
        return cls(fallback)

    @classmethod
    def for_token(cls, token: str) -> MarkerSigner:
        """The configured key, else one derived from the tracker's token."""
        derived = hmac.new(token.encode(), b"remediate tracker marker key", hashlib.sha256)
        return cls.from_env(derived.digest())

    @classmethod
    def for_directory(cls, root: Path) -> MarkerSigner:
        """The configured key, else one kept in ``root/.marker-key`` (created on first use)."""
        if os.environ.get(MARKER_KEY_ENV, "").strip():
            return cls.from_env()
        return cls.from_env(_key_file(root / ".marker-key"))

    def _sig(self, kind: str, value: str) -> str:
        mac = hmac.new(self._key, f"{kind}={value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:_SIG_HEX]

    def marker(self, kind: str, value: str) -> str:
        safe = encoded(value)
        return f"<!-- remediate:{kind}={safe} sig={self._sig(kind, safe)} -->"

    def header(self, *markers: tuple[str, str]) -> str:
        return "".join(self.marker(kind, value) + "\n" for kind, value in markers)

    def read(self, text: str | None, kind: str) -> set[str]:
        """The values of ``kind`` in the header of ``text`` that carry our signature."""
        found: set[str] = set()
        for line in _header(text or ""):
            match = _LINE.fullmatch(line)
            if match is None:
                break
            value, sig = match["value"], match["sig"]
            genuine = hmac.compare_digest(sig, self._sig(match["kind"], value))
            if genuine and match["kind"] == kind:
                found.add(value)
        return found

    def carries(self, text: str | None, kind: str, value: str) -> bool:
        return encoded(value) in self.read(text, kind)


def _header(text: str) -> Iterable[str]:
    for line in text.split("\n"):
        if not line.startswith("<!-- remediate:"):
            return
        yield line


def _key_file(path: Path) -> bytes:
    """Read the key, or write a new one atomically (a link fails if another writer won)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_bytes().strip()
