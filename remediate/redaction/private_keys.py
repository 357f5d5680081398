"""Private key blocks: hidden from BEGIN to END, never past what looks like key material.

A BEGIN marker is only a marker: text after it is hidden as key material when it is a
well-formed block up to its END, or else only the base64-looking lines that follow it
(bounded). Lines of a key printed to a log carry the log's prefix (timestamp, host,
unit): a line belongs to the key only if it starts like the marker's line, or bare.
An END without its BEGIN (output cut in front of it) hides the base64-looking lines just
before it. Anything else, such as an attacker's User-Agent carrying the marker
alone, hides the marker and leaves the rest of the text as evidence.
"""

from __future__ import annotations

import re

BEGIN = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
END = re.compile(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
MAX_BLOCK_CHARS = 65_536
MAX_KEY_LINES = 1_000

_SEPARATOR = r"(?:\s|\\r|\\n)"
_STRONG = r"(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{2,}={1,2}|=[A-Za-z0-9+/]{4})"
_BOUNDARY = r"(?=[\s\"',\\]|$)"
_HEADER = re.compile(r"(?:Proc-Type|DEK-Info|Version|Comment|Hash|Charset):[^\n\\]{0,200}")
_TOKENS = re.compile(rf"{_SEPARATOR}+")
_ANY_TOKEN = re.compile(r"[A-Za-z0-9+/]+={0,2}|=[A-Za-z0-9+/]{4}")
_KEY_LINE = re.compile(rf"[ \t]*(?:{_STRONG}{_BOUNDARY}{_SEPARATOR}*)+")
_KEY_AFTER = re.compile(rf"(?:{_SEPARATOR}*{_STRONG}{_BOUNDARY})*")
_KEY_BEFORE_REVERSED = re.compile(
    r"(?:(?:\s|n\\|r\\)*(?:={0,2}[A-Za-z0-9+/]{16,}|={1,2}[A-Za-z0-9+/]{2,}))*"
)


def line_prefix(prefix: str) -> re.Pattern[str]:
    """The shape of what precedes a marker on its line (timestamp, host, unit), digits free:
    the key's other lines must start the same way to count as its lines."""
    if not prefix.strip():
        return re.compile(r"[ \t]*")
    parts = (p for p in re.split(r"(\d+|\s+)", prefix) if p)
    shape = (r"\d+" if p.isdigit() else r"[ \t]+" if p.isspace() else re.escape(p) for p in parts)
    return re.compile("".join(shape))


def _unprefixed(line: str, prefix: re.Pattern[str]) -> str | None:
    match = prefix.match(line)
    return None if match is None else line[match.end() :]


def _tokens(text: str) -> list[str] | None:
    tokens = [t for t in _TOKENS.split(_HEADER.sub(" ", text)) if t]
    return tokens if all(_ANY_TOKEN.fullmatch(t) for t in tokens) else None


def is_key_body(body: str, prefix: re.Pattern[str]) -> bool:
    """Between BEGIN and END: headers and base64 chunks (only the last two may be short),
    on lines that start like the BEGIN line or not at all."""
    first, *others = body.split("\n")
    tokens = _tokens(first)
    for line in others:
        rest = _unprefixed(line, prefix)
        found = _tokens(rest) if rest is not None else None
        found = _tokens(line) if found is None else found
        if tokens is None or found is None:
            return False
        tokens += found
    return tokens is not None and all(len(t) >= 16 for t in tokens[:-2])


def _end_of(match: re.Match[str] | None, default: int) -> int:
    return default if match is None else match.end()


def _is_key_line(line: str) -> bool:
    return bool(_HEADER.fullmatch(line.strip()) or _KEY_LINE.fullmatch(line.rstrip()))


def _material(line: str, prefix: re.Pattern[str]) -> str | None:
    """The key material of a line, after the marker line's prefix or with no prefix."""
    rest = _unprefixed(line, prefix)
    for candidate in (rest, line):
        if candidate is not None and _is_key_line(candidate):
            return candidate
    return None


def _is_blank(line: str, prefix: re.Pattern[str]) -> bool:
    rest = _unprefixed(line, prefix)
    return not line.strip() or (rest is not None and not rest.strip())


def _end_of_material_after(text: str, at: int, prefix: re.Pattern[str]) -> int:
    """Where the key material after a BEGIN marker at ``at`` plausibly ends."""
    line_end = text.find("\n", at)
    line_end = len(text) if line_end < 0 else line_end
    stop = _end_of(_KEY_AFTER.match(text, at, line_end), at)
    if text[stop:line_end].strip():
        return stop
    cursor, lines = line_end, 0
    while cursor < len(text) and lines < MAX_KEY_LINES and cursor - at < MAX_BLOCK_CHARS:
        following = text.find("\n", cursor + 1)
        following = len(text) if following < 0 else following
        line = text[cursor + 1 : following]
        if _material(line, prefix) is not None:
            stop = following
        elif not _is_blank(line, prefix):
            break
        cursor, lines = following, lines + 1
    return stop


def _start_of_material_before(text: str, floor: int, at: int) -> int:
    """Where the key material before an END marker at ``at`` (whose BEGIN is gone) starts."""
    line_start = max(text.rfind("\n", floor, at) + 1, floor)
    reversed_prefix = text[line_start:at][::-1]
    start = at - _end_of(_KEY_BEFORE_REVERSED.match(reversed_prefix), 0)
    prefix = line_prefix(text[line_start:start])
    cursor, lines = line_start, 0
    while cursor > floor and lines < MAX_KEY_LINES and at - cursor < MAX_BLOCK_CHARS:
        previous = max(text.rfind("\n", floor, cursor - 1) + 1, floor)
        line = text[previous : cursor - 1]
        material = _material(line, prefix)
        if material is not None:
            start = previous + len(line) - len(material)
        elif not _is_blank(line, prefix):
            break
        cursor, lines = previous, lines + 1
    return start


def _block_end(text: str, begin: re.Match[str], end: re.Match[str] | None) -> int:
    """``end`` is the first END after ``begin``, if any."""
    prefix = line_prefix(text[text.rfind("\n", 0, begin.start()) + 1 : begin.start()])
    if (
        end is not None
        and end.start() - begin.end() <= MAX_BLOCK_CHARS
        and text.find("-----", begin.end(), end.start()) < 0
        and is_key_body(text[begin.end() : end.start()], prefix)
    ):
        return end.end()
    return _end_of_material_after(text, begin.end(), prefix)


def redact_private_keys(text: str, marker: str) -> str:
    if "PRIVATE KEY" not in text:
        return text
    out: list[str] = []
    pos = 0
    begin, end = BEGIN.search(text), END.search(text)
    while begin is not None or end is not None:
        if end is not None and (begin is None or end.start() < begin.start()):
            out += [text[pos : _start_of_material_before(text, pos, end.start())], marker]
            pos = end.end()
        elif begin is not None:
            out += [text[pos : begin.start()], marker]
            pos = _block_end(text, begin, end)
        if begin is not None and begin.start() < pos:
            begin = BEGIN.search(text, pos)
        if end is not None and end.start() < pos:
            end = END.search(text, pos)
    out.append(text[pos:])
    return "".join(out)
