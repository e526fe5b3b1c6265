"""Cases of the ``subject`` category: binding the assertion to the session (rows I01-I06).

Step-up elevates an existing session, so the assertion, the session and the environment
must all name the same user. Variants of ``sub`` itself (case, Unicode) live in
``claims.py`` (rows B04/B05); here two real users, logged-out sessions, environments and
tokens used in the wrong place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import DYNAMIC, Case, CaseContext, Severity, case, with_bearer

if TYPE_CHECKING:
    from ..targets.base import Exchange, Session

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "subject"

_WHY = (
    "If the verify call does not bind the assertion to the session's user and environment, "
    "an assertion for one user elevates another user's session: the elevated token then "
    "exports or deletes the wrong user's wallet."
)


def _user_a_with_b(ctx: CaseContext) -> Exchange:
    """User B's own assertion first (else the case proves nothing), then A's on B's session."""
    session_b = ctx.session(1)
    own = ctx.send(
        ctx.sign(ctx.assertion(subject=session_b.subject)), session=session_b, label="B's own"
    )
    ctx.check(ctx.accepted(own), "user B's own valid assertion was not accepted on B's session")
    return ctx.send(
        ctx.sign(ctx.assertion()), session=session_b, label="A's assertion, B's session"
    )


def _after_logout(ctx: CaseContext) -> Exchange:
    session = ctx.fresh_session(0)
    before = ctx.send(ctx.sign(ctx.assertion()), session=session, label="before logout")
    ctx.check(ctx.accepted(before), "the fresh session did not work before logout")
    logged_out = ctx.logout(session)
    if ctx.refused(logged_out):
        ctx.skip(f"logout answered {logged_out.status}: no revoked session to test with")
    return ctx.send(ctx.sign(ctx.assertion()), session=session, label="after logout")


def _session_x_path_y(ctx: CaseContext) -> Exchange:
    """Environment A's session on environment B's path with an assertion valid for B."""
    other = ctx.other_environment()
    assertion = ctx.assertion().with_claims(iss=other.issuer).without("aud")
    token = ctx.sign(assertion, key=ctx.keyring.other_environment(ctx.key.alg))
    return ctx.send(token, session=ctx.session(0), environment_id=other.environment_id)


def _session_y_assertion_x(ctx: CaseContext) -> Exchange:
    """Environment B's session on B's path with an assertion valid for environment A."""
    other = ctx.other_environment()
    session = ctx.session_in_other_environment(0)
    return ctx.send(ctx.sign(ctx.assertion()), session=session, environment_id=other.environment_id)


def _elevated(ctx: CaseContext) -> str:
    issued = ctx.valid(label="issue")
    ctx.check(ctx.accepted(issued), "the valid assertion was not accepted")
    return issued.issued_token or ""


def _identifier(
    pick: Callable[[Session, CaseContext], str | None], what: str
) -> Callable[[CaseContext], Exchange]:
    """An assertion whose sub is another identifier of the same user or environment."""

    def run(ctx: CaseContext) -> Exchange:
        value = pick(ctx.session(0), ctx)
        if not value or value == ctx.session(0).subject:
            ctx.skip(f"the target exposes no {what} distinct from the subject")
        return ctx.send(ctx.sign(ctx.assertion().with_claims(sub=value)))

    return run


def _cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _WHY,
        "severity": Severity.CRITICAL,
        "needs": ("sessions",),
        "profiles": DYNAMIC,
        "references": ("Dynamic docs: sub must match the signed-in user", "8725bis §3.8"),
    }
    environment = {**common, "needs": ("sessions", "second_environment"), "anchors": ("I03", "A06")}
    confusion = {
        **common,
        "anchors": ("I04",),
        "references": ("8725bis §2.7/§3.12 (cross-JWT confusion)",),
    }
    identifiers = {**common, "anchors": ("I05",), "references": ("8725bis §3.8 (RFC 9700 §4.15)",)}
    return [
        case(
            "subject.session.other_user",
            "Assertion for user A on user B's session",
            run=_user_a_with_b,
            anchors=("I01",),
            **{**common, "needs": ("sessions", "second_user")},
        ),
        case(
            "subject.session.logged_out",
            "Assertion for user A after A's session was logged out",
            run=_after_logout,
            anchors=("I02", "A03"),
            **common,
        ),
        case(
            "subject.environment.session_of_other_environment",
            "Session of environment A on environment B's path, assertion valid for B",
            run=_session_x_path_y,
            **environment,
        ),
        case(
            "subject.environment.assertion_of_other_environment",
            "Session of environment B on B's path, assertion valid for environment A",
            run=_session_y_assertion_x,
            **environment,
        ),
        case(
            "subject.confusion.assertion_as_bearer",
            "The assertion itself used as the session bearer",
            run=with_bearer(lambda ctx, s: ctx.sign(ctx.assertion())),
            **confusion,
        ),
        case(
            "subject.confusion.elevated_token_as_bearer",
            "An elevated token used as the session bearer",
            run=with_bearer(lambda ctx, s: _elevated(ctx)),
            **confusion,
        ),
        case(
            "subject.confusion.elevated_token_as_assertion",
            "An elevated token sent as the assertion",
            run=lambda ctx: ctx.send(_elevated(ctx), label="elevated as assertion"),
            **confusion,
        ),
        case(
            "subject.confusion.session_token_as_assertion",
            "The session token sent as the assertion",
            run=lambda ctx: ctx.send(ctx.session(0).token, label="session as assertion"),
            **confusion,
        ),
        case(
            "subject.identifier.user_id",
            "sub is the platform's user id instead of the external subject",
            run=_identifier(lambda s, ctx: s.user_id, "user id"),
            **identifiers,
        ),
        case(
            "subject.identifier.environment_id",
            "sub is the environment id (a client-id-like identifier)",
            run=_identifier(lambda s, ctx: str(ctx.settings.environment_id), "environment id"),
            **identifiers,
        ),
    ]


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {
    "I06": (
        "sessionPublicKey binding needs a session bound to a client key pair and a way to "
        "present a second key; the reference policy defines no such binding and the target "
        "interface cannot sign requests with a session key yet"
    ),
}
