"""Typing and purpose confusion (issue 14, class 9): a JWT made for another purpose is not
an assertion.

``claims.kind.*`` (``claims.py``) send a sign-in-shaped and an ID-token-shaped JWT signed
by the trusted key. Here, the tokens an attacker actually holds:

* the token the target itself issued (Dynamic's elevated token, an RFC 7523 access
  token) and Dynamic's session token, presented back as the assertion: a service that
  also trusts its own signing key (or that skips the issuer check for "its own" tokens)
  turns every token it ever issued into a step-up credential (``must``);
* a DPoP proof (``typ: dpop+jwt``, ``htm``/``htu``, no ``exp``, ``sub`` or ``scope``)
  signed by the trusted key: a proof a resource server has seen is not an assertion;
* for RFC 7523 client authentication under ``audience_kind = "issuer"``: the audience
  injection fix (CVE-2025-27370/27371, RFC 10070) — the audience is the authorization
  server's issuer identifier as a single string, never an array or the token endpoint —
  and the explicit ``client-authentication+jwt`` type (accepted for client
  authentication, never as a jwt-bearer grant). These are ``should``;
  ``[target.policy] client_auth_jwt = "required"`` promotes them
  (``catalog/profiles.POLICY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..forge import compact
from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    case,
    header_for,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["CASES", "CLIENT_AUTH_TYP", "NOT_APPLICABLE"]

#: RFC 10070's explicit type for a client authentication JWT
CLIENT_AUTH_TYP = "client-authentication+jwt"
_OTHER_SERVER = "https://other-authorization-server.conformance.test"
_RFC = ("rfc7523",)

_OWN_WHY = (
    "A token the service issued (an elevated or access token, a session token) is signed "
    "by the service's own key and names the same user: a verifier that also trusts that "
    "key, or looks keys up by the token's iss, lets anyone holding one token mint the next."
)
_REFS_OWN = ("8725bis §2.7/§3.12", "RFC8725 §3.11", "Dynamic BYOA docs", "CWE-345")


def _issued_as_assertion(ctx: CaseContext) -> Exchange:
    issued = ctx.valid(label="issue a token")
    ctx.check(ctx.accepted(issued), "the valid assertion was not accepted")
    return ctx.send(issued.issued_token or "", label="issued token as assertion")


def _session_as_assertion(ctx: CaseContext) -> Exchange:
    session = ctx.session(0)
    return ctx.send(session.token, session=session, label="session token as assertion")


def _dpop_proof(ctx: CaseContext) -> Exchange:
    key = ctx.key
    header = {"alg": key.alg, "typ": "dpop+jwt", "jwk": dict(key.public_jwk)}
    claims = ctx.assertion().claims
    proof = {
        "htm": "POST",
        "htu": getattr(ctx.target, "description", {}).get("token_url")
        or "https://app.conformance.test/api/v0/externalAuth/verify",
        "iat": ctx.now(),
        "jti": claims["jti"],
    }
    return ctx.send(compact(header, proof, key=key), label="DPoP proof as assertion")


def _rfc7523(ctx: CaseContext, mode: str) -> Mapping[str, Any]:
    options = ctx.target.description
    if ctx.target.profile != "rfc7523" or options.get("mode") != mode:
        ctx.skip(f"applies to RFC 7523 targets in mode {mode} only")
    return options


def _issuer_audience(ctx: CaseContext) -> str:
    options = _rfc7523(ctx, "client_assertion")
    audience = ctx.settings.audience
    if options.get("audience_kind") != "issuer" or not audience:
        ctx.skip(
            'applies under audience_kind = "issuer" (RFC 10070: aud is the authorization '
            "server's issuer identifier); this target uses the token endpoint URL"
        )
    return str(audience)


def _aud(make: Any) -> Any:
    def run(ctx: CaseContext) -> Exchange:
        issuer = _issuer_audience(ctx)
        aud = make(ctx, issuer)
        return ctx.send(ctx.sign(ctx.assertion().with_claims(aud=aud)), label="client assertion")

    return run


def _typed(mode: str) -> Any:
    def run(ctx: CaseContext) -> Exchange:
        _rfc7523(ctx, mode)
        header = header_for(ctx.key, typ=CLIENT_AUTH_TYP)
        return ctx.send(compact(header, dict(ctx.assertion().claims), key=ctx.key))

    return run


def _audience_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": "claims",
        "profiles": _RFC,
        "level": Level.SHOULD,
        "severity": Severity.HIGH,
        "anchors": ("N05",),
        "references": (
            "RFC 10070 (aud is the issuer identifier as a single string)",
            "CVE-2025-27370",
            "CVE-2025-27371",
            "OIDF notice 2025-01 (audience injection)",
            "CWE-287",
        ),
        "rationale": "Audience injection: a client that puts several audiences or the token "
        "endpoint in aud can be led by a malicious authorization server to mint assertions "
        "that server replays here. RFC 10070 closes it: aud is this server's issuer "
        "identifier, as a single string.",
        "correct": "refuses it: under RFC 10070 only the issuer identifier, as a single "
        "string, is an acceptable audience",
    }
    return [
        case(
            "claims.rfc7523.aud_issuer_in_array",
            "aud is an array holding only the issuer identifier",
            run=_aud(lambda ctx, issuer: [issuer]),
            **common,
        ),
        case(
            "claims.rfc7523.aud_issuer_and_other",
            "aud is an array holding the issuer identifier and another server",
            run=_aud(lambda ctx, issuer: [issuer, _OTHER_SERVER]),
            **common,
        ),
        case(
            "claims.rfc7523.aud_token_url_under_issuer_rule",
            "aud is the token endpoint URL where the issuer identifier is the rule",
            run=_aud(lambda ctx, issuer: str(ctx.target.description.get("token_url"))),
            **common,
        ),
    ]


CASES: tuple[Case, ...] = (
    case(
        "claims.purpose.issued_token",
        "The token the target issued, presented back as the assertion",
        category="claims",
        run=_issued_as_assertion,
        severity=Severity.CRITICAL,
        anchors=("B21",),
        rationale=_OWN_WHY,
        references=_REFS_OWN,
    ),
    case(
        "claims.purpose.session_token",
        "The session token presented as the assertion",
        category="claims",
        run=_session_as_assertion,
        profiles=DYNAMIC,
        needs=("sessions",),
        severity=Severity.CRITICAL,
        anchors=("B21",),
        rationale=_OWN_WHY,
        references=_REFS_OWN,
    ),
    case(
        "claims.purpose.dpop_proof",
        "A DPoP proof (typ dpop+jwt, htm/htu, no exp/sub) signed by the trusted key",
        category="claims",
        run=_dpop_proof,
        severity=Severity.HIGH,
        anchors=("B21",),
        rationale="A DPoP proof is shown to every resource server the client calls; signed "
        "by a key the service trusts for assertions, it must still not pass as one: it has "
        "no exp, no sub and another type.",
        references=("RFC9449 §4.2", "RFC8725 §3.11", "RFC7523 §3(2)(4)", "CWE-345"),
    ),
    *_audience_cases(),
    case(
        "header.rfc7523.typ_client_authentication",
        f"A client assertion typed {CLIENT_AUTH_TYP!r} is accepted",
        category="header",
        run=_typed("client_assertion"),
        profiles=_RFC,
        expect=Expect.ACCEPT,
        level=Level.SHOULD,
        severity=Severity.LOW,
        anchors=("N05",),
        rationale="RFC 10070 asks clients to type client authentication JWTs explicitly; a "
        "server that refuses the registered type breaks clients that follow it.",
        references=("RFC 10070 (typ client-authentication+jwt)", "RFC8725 §3.11"),
    ),
    case(
        "header.rfc7523.typ_client_authentication_as_grant",
        f"A JWT typed {CLIENT_AUTH_TYP!r} presented as a jwt-bearer grant",
        category="header",
        run=_typed("jwt_bearer"),
        profiles=_RFC,
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("B21",),
        rationale="Explicit typing exists so that a client authentication JWT is never "
        "processed as an authorization grant: the type says what it is for.",
        references=("RFC 10070 (typ client-authentication+jwt)", "RFC8725 §3.11", "CWE-345"),
    ),
)

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
