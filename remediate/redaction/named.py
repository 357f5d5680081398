"""Secrets named by their key: ``key=value`` pairs, JSON members, flags, headers, cookies.

A key names a secret when one of its words does (``DB_PASSWORD``, ``apiKey``,
``x-auth-token``, ``AccountKey``, ``sig``), unless the key is about the secret rather
than the secret itself (``token_count``, ``max_tokens``, ``password_changed_at``).
Placeholders (``$1``, ``?``, ``$TOKEN``, ``${DB_PASSWORD}``, ``null``, ``****``) are not
secrets.
"""

from __future__ import annotations

import itertools
import re

from remediate.redaction.rules import MARKER, NOT_MARKER

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
SECRET_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "token",
        "credential", "credentials", "apikey", "sig", "cookie", "cookies",
    }
)  # fmt: skip
SECRET_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "apikey", "pwd")
KEY_OWNERS = frozenset(
    {"api", "access", "private", "secret", "account", "signing", "encryption", "master",
     "shared", "client", "app", "auth", "session"}
)  # fmt: skip
ABOUT_THE_SECRET = frozenset(
    {
        "count", "counts", "len", "length", "size", "type", "types", "ttl", "expiry",
        "expires", "expiration", "exp", "age", "at", "in", "limit", "used", "remaining",
        "name", "names", "id", "ids", "file", "path", "url", "uri", "endpoint", "policy",
        "version", "set", "enabled", "required", "changed", "updated", "created", "rotated",
        "strength", "mode", "method", "volume", "ref", "source", "store", "dir", "provider",
        "header", "hint", "kind", "field", "format", "prompt", "reset", "timeout", "rate",
        "interval", "backend", "label", "algorithm", "scope", "scopes", "issuer", "refs",
        "valid", "invalid", "missing", "error", "errors", "status", "manager", "mount",
        "java", "py", "go", "js", "ts", "rb", "kt", "cs", "rs", "php", "scala", "swift",
    }
)  # fmt: skip
COUNTERS = frozenset({"max", "min", "num", "total", "n", "input", "output", "completion"})
_PLACEHOLDER = re.compile(
    r"(?i)(?:null|none|nil|true|false|undefined|\*+|x{3,}|\$\d+|\?|%s|:[a-z_]\w*"
    r"|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}|\{\{[^}]*\}\}|<[a-z_ -]+>"
    r"|\\?\[REDACTED:[a-z0-9-]+\\?\])"
)


def key_words(key: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(key)]


def names_secret(key: str) -> bool:
    words = key_words(key)
    if not words or words[-1] in ABOUT_THE_SECRET or words[0] in COUNTERS:
        return False
    if any(w in SECRET_WORDS or w.endswith(SECRET_SUFFIXES) for w in words):
        return True
    pairs = itertools.pairwise(words)
    return any(b in {"key", "signature"} and a in KEY_OWNERS for a, b in pairs)


def secret_kind(key: str) -> str:
    words = key_words(key)
    if any("pass" in w or "pwd" in w for w in words):
        return "password"
    if any("token" in w for w in words):
        return "token"
    if any("cookie" in w for w in words):
        return "cookie"
    return "secret"


def is_placeholder(value: str) -> bool:
    return not value or bool(_PLACEHOLDER.fullmatch(value))


_QUOTED = (
    r"\\\"(?:(?!\\\")[^\n]){0,4096}\\\""  # an escaped string inside a JSON string: \"...\"
    r"|\"(?:[^\"\\\n]|\\.){0,4096}\""
    r"|'(?:[^'\\\n]|\\.){0,4096}'"
)
_BARE = r"\\?[\"']?[^\s,;&\"'<>]{0,4096}[^\s,;&\"'<>)\]}]"
_PAIR = re.compile(
    r"(?:(?<=%[0-9A-Fa-f]{2})|(?<![A-Za-z0-9_.]))(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})"
    r"(?P<sep>\\?[\"']?[ \t]*(?:=>|[=:]|%3[Dd])[ \t]*)"
    r"(?P<value>" + NOT_MARKER + "(?:" + _QUOTED + "|" + _BARE + "))"
)
_FLAG = re.compile(
    r"(?<!\S)(?P<key>--[A-Za-z][A-Za-z0-9-]{0,63})(?P<sep>[ \t]+)"
    r"(?P<value>" + NOT_MARKER + "(?:" + _QUOTED + r"|[^\s\"'-]\S{0,4096}))"
)
_XML = re.compile(
    r"<(?P<key>[A-Za-z_][\w.-]{0,63})(?P<sep>>)(?P<value>" + NOT_MARKER + r"[^<\n]{1,1000})"
    r"</(?P=key)>"
)
_CLIENT_FLAG = re.compile(
    r"\b(?:(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mariadb|mariadb-dump)"
    r"\b[^\n]{0,500}?\s-p|redis-cli\b[^\n]{0,500}?\s-a\s*|sshpass\b[^\n]{0,500}?\s-p\s*)"
    r"(?P<value>" + NOT_MARKER + "(?:" + _QUOTED + r"|[^\s\"'-]\S{0,4096}))"
)


def _hide(value: str, kind: str) -> str:
    """The marker in place of the value, keeping the quotes that delimit it."""
    marker = MARKER.format(kind)
    for quote in ('\\"', '"', "'"):
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return quote + marker + quote
    return marker


def _unquoted(value: str) -> str:
    return value.strip("\\\"'")


_NESTED = re.compile(r"[=:>]|%3[Dd]")


def _redact_named(pattern: re.Pattern[str], text: str) -> str:
    """Hide values whose key names a secret; other values are searched again from inside."""
    out: list[str] = []
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        key, value = match.group("key"), match.group("value")
        hidden = "[REDACTED:" in value or is_placeholder(_unquoted(value))
        if hidden or not names_secret(key.lstrip("-")):
            resume = match.start("value") if _NESTED.search(value) else match.end()
            out.append(text[pos:resume])
            pos = resume
            continue
        end = match.end("value")
        if "%3" in match.group("sep") and "%26" in value:  # key%3Dvalue%26next: URL-encoded
            end = match.start("value") + value.index("%26")
            value = value[: value.index("%26")]
        out += [text[pos : match.start("value")], _hide(value, secret_kind(key))]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _redact_client_flags(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        start = match.start("value") - match.start()
        return match.group(0)[:start] + _hide(match.group("value"), "password")

    return _CLIENT_FLAG.sub(replace, text)


_AUTHORIZATION = re.compile(
    r"(?i)(?<![A-Za-z0-9-])(?:proxy-)?authorization\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?"
    r"(?:[A-Za-z][A-Za-z0-9_-]*[ \t]+)?+" + NOT_MARKER + r"(?P<value>[^\s\"'\\,;]+)"
)
_COOKIE = re.compile(
    r"(?i)(?<![A-Za-z0-9-])(?P<name>set-cookie|cookie)\\?[\"']?[ \t]*:[ \t]*\\?[\"']?"
    r"(?P<value>[^\n\"'\\]+)"
)
_COOKIE_PAIR = re.compile(r"(?P<name>[^=;\s]+)=(?P<value>" + NOT_MARKER + r"[^;]*)")


def _redact_authorization(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if is_placeholder(match.group("value")):
            return match.group(0)
        start = match.start("value") - match.start()
        return match.group(0)[:start] + MARKER.format("authorization")

    return _AUTHORIZATION.sub(replace, text)


def _redact_cookies(text: str) -> str:
    marker = MARKER.format("cookie")

    def replace(match: re.Match[str]) -> str:
        count = 1 if match.group("name").lower() == "set-cookie" else 0
        hidden = _COOKIE_PAIR.sub(
            lambda p: p.group("name") + "=" + marker, match.group("value"), count=count
        )
        start = match.start("value") - match.start()
        return match.group(0)[:start] + hidden

    return _COOKIE.sub(replace, text)


def redact_named(text: str) -> str:
    text = _redact_authorization(text)
    text = _redact_cookies(text)
    text = _redact_client_flags(text)
    for pattern in (_XML, _FLAG, _PAIR):
        text = _redact_named(pattern, text)
    return text
