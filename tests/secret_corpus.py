"""A seeded corpus of secrets in the places they turn up: log lines, JSON, URLs, headers."""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass


@dataclass(frozen=True)
class Seeded:
    kind: str
    secret: str
    text: str


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"


def corpus(seed: int = 20261127) -> list[Seeded]:
    rng = random.Random(seed)
    items: list[Seeded] = []
    for _ in range(3):
        ghp = "ghp_" + _pick(rng, ALNUM, 36)
        gho = "gho_" + _pick(rng, ALNUM, 36)
        pat = "github_pat_" + _pick(rng, ALNUM + "_", 82)
        akia = "AKIA" + _pick(rng, UPPER, 16)
        aws_secret = _pick(rng, ALNUM + "/+", 40)
        bearer = _pick(rng, ALNUM + "._-", 48)
        header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
        payload = base64.urlsafe_b64encode(
            json.dumps({"sub": _pick(rng, ALNUM, 8)}).encode()
        ).decode()
        jwt = f"{header}.{payload.rstrip('=')}.{_pick(rng, B64URL, 43)}"
        password = _pick(rng, ALNUM + "!%^*", 16)
        url_password = _pick(rng, ALNUM, 20)
        key_body = "\n".join(_pick(rng, ALNUM + "+/", 64) for _ in range(5))
        basic = base64.b64encode(f"admin:{_pick(rng, ALNUM, 12)}".encode()).decode()
        slack = "xoxb-" + _pick(rng, string.digits, 12) + "-" + _pick(rng, ALNUM, 24)
        custom = "ACME-" + _pick(rng, UPPER, 20)
        items += [
            Seeded("github-token", ghp, f"git push failed for https://github.com with {ghp}"),
            Seeded("github-token", gho, f'{{"oauth": "{gho}"}}'),
            Seeded("github-token", pat, f"GITHUB_PAT {pat} loaded"),
            Seeded("aws-access-key", akia, f"using access key {akia} for s3"),
            Seeded("aws-secret", aws_secret, f"aws_secret_access_key={aws_secret}"),
            Seeded("bearer", bearer, f"curl -H 'Authorization: Bearer {bearer}' /api"),
            Seeded("jwt", jwt, f"session cookie jwt {jwt} expired"),
            Seeded("password", password, f"db connect password={password} host=db"),
            Seeded("password", password, f'{{"db_password": "{password}", "x": 1}}'),
            Seeded("secret", password, f"client_secret: {password}"),
            Seeded("token", password, f"TOKEN='{password}'"),
            Seeded("url", url_password, f"postgres://app:{url_password}@db:5432/app failed"),
            Seeded("url", url_password, f"fetching https://deploy:{url_password}@git.local/x"),
            Seeded(
                "private-key",
                key_body,
                "loaded key\n-----BEGIN RSA PRIVATE KEY-----\n"
                f"{key_body}\n-----END RSA PRIVATE KEY-----\nnext line",
            ),
            Seeded("basic", basic, f"Authorization: Basic {basic}"),
            Seeded("slack-token", slack, f"slack webhook token {slack}"),
            Seeded("custom", custom, f"licence {custom} accepted"),
        ]
    return items


CUSTOM_PATTERNS = [("acme-licence", r"ACME-[A-Z0-9]{20}")]


def secret_fragments(secret: str) -> list[str]:
    """The secret and each of its lines (a private key spans several)."""
    return [secret, *[line for line in secret.splitlines() if len(line) >= 8]]
