"""Which channel a decision came through, as the run can verify it.

The gateway verifies a Slack or GitHub request, resumes the run through the same form as
everyone else, and first stores on the run, under ``decision-source-<suspension key>``, the
channel and the verified identity with an HMAC (``REMEDIATE_DECISION_KEY``, shared by the
gateway and the workers) over the run, the key and the decision's fields. The resumed run
believes the channel only when the HMAC verifies for the decision it actually received;
anything else (no record, another decision, no key) is the Prefect API's declared name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from pydantic import BaseModel, ConfigDict, ValidationError

from remediate.approval.channel import CHANNEL, identity_note
from remediate.approval.form import Approval

DECISION_KEY_ENV = "REMEDIATE_DECISION_KEY"
SIGNED_FIELDS = ("decision", "approver", "comment", "diff_sha256")
MIN_KEY_LENGTH = 32


class DecisionSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str = CHANNEL
    identity: str = ""

    @property
    def note(self) -> str:
        return identity_note(self.channel, self.identity)


class Attestation(DecisionSource):
    signature: str


def source_key(suspension_key: str) -> str:
    return f"decision-source-{suspension_key}"


def decision_key(env: Mapping[str, str] | None = None) -> bytes | None:
    value = (os.environ if env is None else env).get(DECISION_KEY_ENV, "")
    return value.encode() if len(value) >= MIN_KEY_LENGTH else None


def _mac(
    key: bytes, run_id: str, suspension_key: str, fields: dict[str, Any], source: DecisionSource
) -> str:
    message = json.dumps(
        {
            "run": run_id,
            "key": suspension_key,
            "decision": {name: fields.get(name) for name in SIGNED_FIELDS},
            "channel": source.channel,
            "identity": source.identity,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hmac.new(key, b"decision-source\n" + message.encode(), hashlib.sha256).hexdigest()


def attest(
    key: bytes,
    run_id: str,
    suspension_key: str,
    run_input: dict[str, Any],
    source: DecisionSource,
) -> Attestation:
    signature = _mac(key, run_id, suspension_key, run_input, source)
    return Attestation(channel=source.channel, identity=source.identity, signature=signature)


def verify(
    key: bytes | None,
    run_id: str,
    suspension_key: str,
    approval: Approval,
    stored: str | None,
) -> DecisionSource:
    """The attested source when ``stored`` verifies for ``approval``, else the API's."""
    if key is None or stored is None:
        return DecisionSource()
    try:
        attestation = Attestation.model_validate_json(stored)
    except ValidationError:
        return DecisionSource()
    fields = {name: getattr(approval, name, None) for name in SIGNED_FIELDS}
    expected = _mac(key, run_id, suspension_key, fields, attestation)
    if not hmac.compare_digest(expected, attestation.signature):
        return DecisionSource()
    return DecisionSource(channel=attestation.channel, identity=attestation.identity)


async def decision_source(run_id: str, suspension_key: str, approval: Approval) -> DecisionSource:
    """Read and verify the record the gateway left for this suspension, if any."""
    async with get_client() as client:
        try:
            stored = await client.read_flow_run_input(UUID(run_id), source_key(suspension_key))
        except ObjectNotFound:
            stored = None
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code != 404:
                raise
            stored = None
    return verify(decision_key(), run_id, suspension_key, approval, stored)
