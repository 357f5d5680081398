"""The typed answer the model submits, and the check of every quote against the record.

A quote counts only when its text appears verbatim in the output of the call it names
(``call-<n>``, a call that ran) or in the collected log it names (``log:<host>/<source>``).
A hypothesis with no quote, or with any quote that does not check, is marked unsupported.
A named action must be one of the service's catalog actions.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from remediate.actions.config import ActionParameterError
from remediate.catalog import Service
from remediate.evidence.models import LogBundle
from remediate.investigation.models import Hypothesis, NextStep, NextStepKind, Quote, ToolCall
from remediate.redaction import Redactor

MIN_QUOTE_CHARS = 8


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmittedQuote(_Input):
    source: str = Field(min_length=1, max_length=200, description="call-<n> or log:<host>/<source>")
    text: str = Field(min_length=1, max_length=2_000, description="Verbatim text from it")


class SubmittedHypothesis(_Input):
    statement: str = Field(min_length=1, max_length=2_000)
    confidence: float = Field(ge=0, le=1)
    quotes: list[SubmittedQuote] = Field(default_factory=list, max_length=10)
    confirm: str = Field(default="", max_length=1_000, description="What would confirm it")
    refute: str = Field(default="", max_length=1_000, description="What would refute it")
    action: str | None = Field(
        default=None, max_length=100, description="A catalog action of the service that fixes it"
    )


class SubmittedNextStep(_Input):
    kind: NextStepKind
    action: str | None = Field(default=None, max_length=100)
    parameters: dict[str, StrictStr | StrictInt] = Field(
        default_factory=dict,
        max_length=20,
        description="Values for the action's declared parameters (string or integer)",
    )
    description: str = Field(default="", max_length=2_000)


class Submission(_Input):
    summary: str = Field(min_length=1, max_length=4_000)
    hypotheses: list[SubmittedHypothesis] = Field(default_factory=list, max_length=10)
    next_step: SubmittedNextStep | None = None


def submission_schema() -> dict[str, Any]:
    return Submission.model_json_schema()


def evidence_texts(calls: list[ToolCall], logs: LogBundle | None) -> dict[str, str]:
    """What a quote may cite, by source name: calls that ran, and the collected logs."""
    texts = {call.id: call.output for call in calls if not call.refused}
    for source in logs.sources if logs is not None else []:
        texts[f"log:{source.host}/{source.source}"] = "\n".join(source.lines)
    return texts


def _quote(quote: SubmittedQuote, texts: dict[str, str], redactor: Redactor) -> Quote:
    text = redactor(quote.text)
    found = texts.get(quote.source)
    verified = found is not None and len(text.strip()) >= MIN_QUOTE_CHARS and text.strip() in found
    return Quote(source=redactor(quote.source), text=text, verified=verified)


def checked(
    submission: Submission,
    calls: list[ToolCall],
    logs: LogBundle | None,
    service: Service,
    redactor: Redactor,
) -> tuple[list[Hypothesis], NextStep | None]:
    """Hypotheses with their quotes checked, supported ones first, then by confidence."""
    texts = evidence_texts(calls, logs)
    hypotheses = []
    for item in submission.hypotheses:
        quotes = [_quote(q, texts, redactor) for q in item.quotes]
        action = item.action if item.action and service.action(item.action) else None
        hypotheses.append(
            Hypothesis(
                statement=redactor(item.statement),
                confidence=item.confidence,
                quotes=quotes,
                confirm=redactor(item.confirm),
                refute=redactor(item.refute),
                action=action,
                supported=bool(quotes) and all(q.verified for q in quotes),
            )
        )
    hypotheses.sort(key=lambda h: (not h.supported, -h.confidence))
    step = submission.next_step
    return hypotheses, None if step is None else _next_step(step, service, redactor)


def _next_step(step: SubmittedNextStep, service: Service, redactor: Redactor) -> NextStep:
    """The next step with its action and parameters checked against the catalog.

    Parameters go with an action step only, and each must be a declared parameter of that
    action whose value passes the parameter's check. When any is refused the step keeps the
    action for the record, holds no parameters and says why: nothing is proposed then,
    since the catalog's defaults are not what the model asked for."""
    action = service.action(step.action) if step.action is not None else None
    description = redactor(step.description)
    if step.kind != "action":
        return NextStep(kind=step.kind, description=description)
    if action is None:
        return NextStep(
            kind="human-check",
            description=redactor(
                f"the model suggested action {step.action!r}, which is not a catalog "
                f"action of {service.name}: {step.description}"
            ),
        )
    try:
        action.arguments(step.parameters)
    except ActionParameterError as exc:
        return NextStep(
            kind="action", action=action.name, description=description, refused=redactor(str(exc))
        )
    return NextStep(
        kind="action", action=action.name, parameters=dict(step.parameters), description=description
    )
