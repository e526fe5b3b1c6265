"""The step-up state machine end to end (issue 14, class 6), where the profile has it
(Dynamic: ``stepUp/check``, the verify call, the guarded operation, logout).

``issued.py`` judges the issued token on the operation (another scope, user or
environment, a tampered or unsigned copy) and ``replay.elevated_token.used_twice`` its
single use. Here, the transitions around them:

* ``stepUp/check`` says a step-up is required before any verify, and still after a
  *refused* verify (``must``: a refused assertion must not satisfy the step-up); after an
  accepted verify either answer is safe (recorded); after the token was used it is
  required again;
* the operation with no token, with an assertion whose verify was refused, with a token
  of another session of the same user;
* after logout the session is dead for the verify call, ``stepUp/check`` and the
  operation, and so is a token issued before it.

Each case signs in a fresh session, so tokens issued by other cases never change what
``stepUp/check`` answers. A target without ``stepUp/check``, logout or a guarded
operation skips the cases that need it, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    break_signature,
    case,
    succeeded,
)

if TYPE_CHECKING:
    from ..targets.base import Session

__all__ = ["CASES", "NOT_APPLICABLE"]

_REFS = (
    "Dynamic API: POST /sdk/{environmentId}/stepUp/check",
    "Dynamic SDK: x-dyn-elevated-access-token",
    "CWE-841",
)


def _required(ctx: CaseContext, session: Session, scope: str, label: str) -> bool:
    """``isRequired`` of ``stepUp/check``; an answer without it is an ``error``."""
    answer = ctx.step_up_check(session, scope, label=label)
    if ctx.refused(answer):
        ctx.error(f"stepUp/check refused a live session (HTTP {answer.status})")
    body = answer.json()
    value = body.get("isRequired") if isinstance(body, dict) else None
    if not isinstance(value, bool):
        ctx.error("stepUp/check answered without a boolean isRequired")
    return bool(value)


def _issue(ctx: CaseContext, session: Session, scope: str) -> str:
    exchange = ctx.send(ctx.sign(ctx.assertion(scope=scope)), session=session, label="verify")
    ctx.check(ctx.accepted(exchange), "a valid assertion was not accepted")
    return exchange.issued_token or ""


def _before_and_after_refusal(ctx: CaseContext) -> None:
    scope = ctx.settings.scopes[0]
    session = ctx.fresh_session(0)
    if not _required(ctx, session, scope, "check before"):
        ctx.skip("stepUp/check says no step-up is required in a fresh session: nothing to judge")
    refused = ctx.send(
        break_signature(ctx.sign(ctx.assertion(scope=scope))),
        session=session,
        label="refused verify",
    )
    ctx.check(ctx.refused(refused), "an assertion with a broken signature was accepted")
    ctx.check(
        _required(ctx, session, scope, "check after the refusal"),
        "after a refused verify, stepUp/check says no step-up is required",
    )


def _after_accepted(ctx: CaseContext) -> None:
    scope = ctx.settings.scopes[0]
    session = ctx.fresh_session(0)
    _issue(ctx, session, scope)
    required = _required(ctx, session, scope, "check after the verify")
    ctx.fact(
        "step_up_required_after_verify",
        required,
        "stepUp/check right after an accepted verify (false: the token satisfies it)",
    )


def _after_use(ctx: CaseContext) -> None:
    scope = ctx.settings.scopes[0]
    session = ctx.fresh_session(0)
    token = _issue(ctx, session, scope)
    used = ctx.operation(session, token, scope, label="use")
    ctx.check(not ctx.refused(used), f"a fresh token did not work on its operation ({used.status})")
    ctx.check(
        _required(ctx, session, scope, "check after use"),
        "after the single-use token was spent, stepUp/check says no step-up is required",
    )


def _operation_with(make: Any) -> Any:
    def run(ctx: CaseContext) -> None:
        scope = ctx.settings.scopes[0]
        session = ctx.fresh_session(0)
        token, what = make(ctx, session, scope)
        answer = ctx.operation(session, token, scope, label=what)
        ctx.check(ctx.refused(answer), f"the operation succeeded with {what}")

    return run


def _no_token(ctx: CaseContext, session: Session, scope: str) -> tuple[str, str]:
    return "", "no elevated token"


def _refused_assertion(ctx: CaseContext, session: Session, scope: str) -> tuple[str, str]:
    token = break_signature(ctx.sign(ctx.assertion(scope=scope)))
    refused = ctx.send(token, session=session, label="refused verify")
    ctx.check(ctx.refused(refused), "an assertion with a broken signature was accepted")
    return token, "the refused assertion as the token"


def _valid_assertion(ctx: CaseContext, session: Session, scope: str) -> tuple[str, str]:
    return ctx.sign(ctx.assertion(scope=scope)), "an unexchanged assertion as the token"


def _other_session(ctx: CaseContext, session: Session, scope: str) -> tuple[str, str]:
    other = ctx.fresh_session(0)
    return _issue(ctx, other, scope), "a token issued to another session of the same user"


def _after_logout(ctx: CaseContext) -> None:
    scope = ctx.settings.scopes[0]
    session = ctx.fresh_session(0)
    token = _issue(ctx, session, scope)
    out = ctx.logout(session)
    if not succeeded(out):
        ctx.error(f"logout did not succeed (HTTP {out.status}): nothing to judge")
    verify = ctx.send(ctx.sign(ctx.assertion(scope=scope)), session=session, label="after logout")
    ctx.check(ctx.refused(verify), "the verify call accepted a logged-out session")
    if "sensitive_operation" in ctx.target.capabilities:
        used = ctx.operation(session, token, scope, label="token after logout")
        ctx.check(ctx.refused(used), "a token issued before logout still works after it")
    if "step_up_check" in ctx.target.capabilities:
        check = ctx.step_up_check(session, scope, label="check after logout")
        if not ctx.refused(check):
            # An answer that still asks for a step-up gives nothing away; only "no step-up
            # needed" for a dead session hands its holder the elevated state.
            body = check.json()
            needed = body.get("isRequired") if isinstance(body, dict) else None
            ctx.check(
                needed is not False,
                "stepUp/check said no step-up is needed for a logged-out session",
            )


_COMMON: dict[str, Any] = {
    "category": "issued",
    "profiles": DYNAMIC,
    "control": False,
    "references": _REFS,
}


CASES: tuple[Case, ...] = (
    case(
        "issued.step_up.required_after_refused_verify",
        "stepUp/check still requires a step-up after a refused verify",
        run=_before_and_after_refusal,
        needs=("sessions", "step_up_check"),
        severity=Severity.HIGH,
        anchors=("L06", "L07"),
        rationale="A refused assertion must leave the session exactly as it was: a service "
        "that records the attempt as a step-up lets a forged assertion unlock the operation.",
        correct="answers isRequired: true before and after the refused verify",
        **_COMMON,
    ),
    case(
        "issued.step_up.after_accepted_verify",
        "stepUp/check after an accepted verify (recorded)",
        run=_after_accepted,
        needs=("sessions", "step_up_check"),
        expect=Expect.EITHER,
        level=Level.SHOULD,
        severity=Severity.INFO,
        anchors=("L07",),
        rationale="Whether a fresh token satisfies the check is the service's choice; the "
        "answer is recorded for the report.",
        correct="answers either way (an unused token may satisfy it, or every operation "
        "may require its own step-up)",
        **_COMMON,
    ),
    case(
        "issued.step_up.required_after_use",
        "stepUp/check requires a step-up again once the single-use token is spent",
        run=_after_use,
        needs=("sessions", "step_up_check", "sensitive_operation"),
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("H12", "L07"),
        rationale="A spent single-use token satisfies nothing: a check that still says "
        "'not required' points the client at a token that no longer works, or shows the "
        "spend was not recorded.",
        correct="answers isRequired: true after the token was used",
        **_COMMON,
    ),
    case(
        "issued.operation.no_token",
        "The sensitive operation without an elevated token",
        run=_operation_with(_no_token),
        needs=("sessions", "sensitive_operation"),
        severity=Severity.CRITICAL,
        anchors=("L06",),
        rationale="The elevated token is what the operation is guarded by: a check that "
        "runs only when the header is present lets a bare session perform it.",
        correct="refuses the operation",
        **_COMMON,
    ),
    case(
        "issued.operation.refused_assertion",
        "The sensitive operation with an assertion whose verify was refused",
        run=_operation_with(_refused_assertion),
        needs=("sessions", "sensitive_operation"),
        severity=Severity.CRITICAL,
        anchors=("L06",),
        rationale="Only a token the service issued unlocks the operation: a guard that "
        "decodes whatever JWT it gets accepts the customer's own assertion, even a refused "
        "one.",
        correct="refuses the operation",
        **_COMMON,
    ),
    case(
        "issued.operation.unexchanged_assertion",
        "The sensitive operation with a valid assertion that was never exchanged",
        run=_operation_with(_valid_assertion),
        needs=("sessions", "sensitive_operation"),
        severity=Severity.CRITICAL,
        anchors=("L06",),
        rationale="The assertion is the input of the exchange, not its output: a guard that "
        "accepts it skips the exchange (and its replay guard) entirely.",
        correct="refuses the operation",
        **_COMMON,
    ),
    case(
        "issued.operation.other_session",
        "The sensitive operation with a token issued to another session of the same user",
        run=_operation_with(_other_session),
        needs=("sessions", "sensitive_operation"),
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("L05", "L06"),
        rationale="A token bound to the session it elevated cannot be carried to another "
        "(stolen) session of the user; the documentation binds it to the user only, so "
        "this is hardening.",
        correct="refuses the operation (the token names the session it elevated)",
        **_COMMON,
    ),
    case(
        "issued.logout.session_dead",
        "After logout the session and its tokens are dead",
        run=_after_logout,
        needs=("sessions", "logout"),
        severity=Severity.HIGH,
        anchors=("A03", "L05"),
        rationale="Logout ends the session: a bearer or an elevated token that still works "
        "after it gives whoever copied them the session back.",
        correct="refuses the verify call and the operation for the session; stepUp/check "
        "refuses it or still requires a step-up",
        **_COMMON,
    ),
)

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
