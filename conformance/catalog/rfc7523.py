"""RFC 7523-only cases (threat-catalog rows N01-N12): the form around the assertion,
client authentication versus the grant, and the OAuth error codes.

Every case here has ``profiles=("rfc7523",)``. Recipes build the form with the target's
correct form (``ExchangeRequest.fields`` edit it: ``None`` drops a parameter) and break one thing;
cases that apply to one mode (``client_assertion`` or ``jwt_bearer``) skip in the other.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import Case, CaseContext, Expect, Kind, Level, Severity, case

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["CASES", "NOT_APPLICABLE"]

_RFC = ("rfc7523",)
_OTHER_CLIENT = "conformance-other-client"
_OTHER_SERVER = "https://other-authorization-server.conformance.test/oauth2/token"
_SAML_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
_SAML_GRANT = "urn:ietf:params:oauth:grant-type:saml2-bearer"
_JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_RFC7523_S3 = "RFC 7523 §3"


def _target(ctx: CaseContext, mode: str | None = None) -> Mapping[str, Any]:
    """The RFC 7523 target's options (``mode``, ``client_id``, ``token_url``) from its
    description; skips on another profile, or in another ``mode``."""
    options = ctx.target.description
    if ctx.target.profile != "rfc7523":
        ctx.skip("needs an RFC 7523 target (profile rfc7523)")
    if mode is not None and options.get("mode") != mode:
        ctx.skip(f"applies to mode {mode} only (this target uses {options.get('mode')})")
    return options


def _send_form(
    ctx: CaseContext,
    token: str,
    *,
    mode: str | None = None,
    drop: tuple[str, ...] = (),
    override: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Exchange:
    """The target's correct form around ``token``, without ``drop`` and with ``override``."""
    _target(ctx, mode)
    fields: dict[str, str | None] = dict.fromkeys(drop)
    fields.update(override or {})
    return ctx.send(token, fields=fields, headers=headers or {})


def _form_case(
    id: str,
    title: str,
    *,
    mode: str | None,
    drop: tuple[str, ...] = (),
    override: Callable[[CaseContext], Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Case:
    """A valid assertion in a form with one thing broken."""

    def run(ctx: CaseContext) -> Exchange:
        token = ctx.sign(ctx.assertion())
        extra = override(ctx) if override is not None else None
        return _send_form(ctx, token, mode=mode, drop=drop, override=extra, headers=headers)

    kwargs.setdefault("category", "envelope")
    return case(id, title, run=run, profiles=_RFC, **kwargs)


def _claims_case(
    id: str,
    title: str,
    *,
    mode: str | None,
    claims: Callable[[CaseContext], Mapping[str, Any]],
    drop: tuple[str, ...] = (),
    **kwargs: Any,
) -> Case:
    """A correct form around an assertion whose claims were changed."""

    def run(ctx: CaseContext) -> Exchange:
        _target(ctx, mode)
        assertion = ctx.assertion().with_claims(dict(claims(ctx)))
        if drop:
            assertion = assertion.without(*drop)
        return _send_form(ctx, ctx.sign(assertion), mode=mode)

    return case(id, title, category="claims", run=run, profiles=_RFC, **kwargs)


def _aud_token_url(ctx: CaseContext) -> Exchange | None:
    """The token URL as ``aud``: accepted under RFC 7523; under ``audience_kind =
    "issuer"`` (RFC 10070, 7523bis: aud is the issuer identifier) either clean answer is
    correct — the answer is measured, and a refusal still needs its positive control."""
    target = _target(ctx)
    exchange = _send_form(ctx, ctx.sign(ctx.assertion().with_claims(aud=target["token_url"])))
    if target.get("audience_kind") != "issuer":
        return exchange  # judged against the case's expectation: accept
    accepted = ctx.accepted(exchange)  # an unclean answer is an error, never a verdict
    ctx.fact(
        "token_url_audience",
        "accepted" if accepted else "refused",
        'the token endpoint URL as aud under audience_kind = "issuer" (RFC 10070 wants '
        "the issuer identifier; RFC 7523 allowed the token URL): either is correct",
    )
    return None


def _client_id(ctx: CaseContext) -> str:
    return str(_target(ctx)["client_id"])


def _basic(ctx: CaseContext) -> str:
    pair = f"{_client_id(ctx)}:conformance-not-a-secret".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _error_code_case(
    id: str, title: str, *, mode: str, code: str, statuses: tuple[int, ...], **kwargs: Any
) -> Case:
    """An assertion with a bad signature must be refused with the right OAuth ``error``."""

    def run(ctx: CaseContext) -> Exchange:
        # lazy: the transport stack (logging, concurrent.futures: ~15 ms) stays out of the
        # catalog, which the plugin imports in every pytest run
        from ..targets.rfc7523 import error_code

        _target(ctx, mode)
        attacker = ctx.keyring.attacker(ctx.key.alg)
        token = ctx.sign(ctx.assertion().with_header(kid=ctx.key.kid), key=attacker)
        exchange = _send_form(ctx, token, mode=mode)
        if exchange.rejected:
            got = error_code(exchange)
            ctx.check(
                got == code and exchange.status in statuses,
                f"refused it with HTTP {exchange.status} and error {got!r}; RFC 7523 asks for "
                f"{code!r} with {' or '.join(map(str, statuses))}",
            )
        return exchange  # the engine judges acceptance and misbehaviour, then controls

    return case(
        id,
        title,
        category="errors",
        run=run,
        profiles=_RFC,
        correct=f"refuses it with HTTP {' or '.join(map(str, statuses))} and error {code!r}",
        **kwargs,
    )


def _jti_reuse(ctx: CaseContext) -> Exchange:
    _target(ctx)
    token = ctx.sign(ctx.assertion())
    first = _send_form(ctx, token)
    if not first.accepted:
        ctx.fail("a fresh valid assertion was not accepted, so reuse cannot be tested")
    second = ctx.send(token, label="replay")
    ctx.fact(
        "rfc7523_jti_reuse",
        "refused" if second.rejected else "accepted" if second.accepted else "error",
    )
    return second


def _issued_subject(ctx: CaseContext) -> None:
    """A valid grant; the issued token, when it is a JWT, names the assertion's subject."""
    _target(ctx, "jwt_bearer")
    subject = str(ctx.settings.subjects[0])
    exchange = _send_form(ctx, ctx.sign(ctx.assertion(subject=subject)), mode="jwt_bearer")
    if ctx.refused(exchange):
        ctx.fail("a valid jwt-bearer grant was refused, so the issued subject cannot be read")
    claims = _jwt_claims(exchange.issued_token or "")
    if claims is None:
        ctx.skip("the issued access token is opaque: its subject is not observable here")
        return
    ctx.check(
        claims.get("sub") == subject,
        f"the issued token's sub is {claims.get('sub')!r}, not the assertion's {subject!r}",
    )


def _jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWS-shaped ``token``, or ``None`` when it is opaque."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _no_sub_request_object(ctx: CaseContext) -> Mapping[str, Any]:
    # What a signed request object (RFC 9101) carries; it has no sub.
    return {
        "response_type": "code",
        "client_id": _client_id(ctx),
        "redirect_uri": "https://client.conformance.test/callback",
        "scope": "openid",
        "state": "conformance",
        "nonce": "conformance",
    }


CASES: tuple[Case, ...] = (
    # N01, N02: iss and sub of a client assertion are the client id.
    _claims_case(
        "claims.rfc7523.sub_not_client_id",
        "A client assertion whose sub is another client id",
        mode="client_assertion",
        claims=lambda ctx: {"sub": _OTHER_CLIENT},
        severity=Severity.CRITICAL,
        anchors=("N01",),
        references=(
            "RFC 7523 §3 (2.B)",
            "OIDF FAPI1AdvancedFinalEnsureClientAssertionWithWrongSubFails",
        ),
        rationale="For client authentication, sub must be the client id. A server that "
        "looks the client up by sub but checks the key of iss (or the other way round) "
        "lets one client authenticate as another.",
    ),
    _claims_case(
        "claims.rfc7523.iss_not_client_id",
        "A client assertion whose iss is another client id",
        mode="client_assertion",
        claims=lambda ctx: {"iss": _OTHER_CLIENT},
        severity=Severity.CRITICAL,
        anchors=("N02",),
        references=(_RFC7523_S3, "OIDF FAPI1AdvancedFinalEnsureClientAssertionWithWrongIssFails"),
        rationale="For client authentication, iss must be the client id; an assertion that "
        "names another issuer was not made by this client for this purpose.",
    ),
    # N03, N04: the form around a client assertion.
    _form_case(
        "envelope.rfc7523.assertion_type_missing",
        "client_assertion without client_assertion_type",
        mode="client_assertion",
        drop=("client_assertion_type",),
        anchors=("N03",),
        references=("RFC 7523 §2.2", "OIDF EnsureClientAssertionTypeIsJwt"),
        rationale="client_assertion_type tells the server how to read the assertion; a "
        "server that guesses may take a token of another kind as a client credential.",
    ),
    _form_case(
        "envelope.rfc7523.assertion_type_wrong",
        "client_assertion_type names SAML instead of JWT",
        mode="client_assertion",
        override=lambda ctx: {"client_assertion_type": _SAML_ASSERTION_TYPE},
        anchors=("N03",),
        references=("RFC 7523 §2.2", "OIDF EnsureClientAssertionTypeIsJwt", "keycloak #43281"),
        rationale="A server must process the assertion as the declared type only; ignoring "
        "the type is how SAML/JWT confusion starts.",
    ),
    _form_case(
        "envelope.rfc7523.assertion_type_grant_urn",
        "client_assertion_type carries the jwt-bearer grant URN",
        mode="client_assertion",
        override=lambda ctx: {"client_assertion_type": _JWT_BEARER_GRANT},
        anchors=("N03",),
        references=("RFC 7523 §2.2",),
        rationale="The grant URN is not a client assertion type; accepting it shows the "
        "type is not checked at all.",
    ),
    _form_case(
        "envelope.rfc7523.no_client_assertion",
        "client_credentials with a client_id and no client assertion",
        mode="client_assertion",
        drop=("client_assertion", "client_assertion_type"),
        severity=Severity.CRITICAL,
        anchors=("N04",),
        references=(
            "OIDF FAPI1AdvancedFinalEnsureClientAssertionInTokenEndpoint",
            "RFC 6749 §3.2.1",
        ),
        rationale="A confidential client must authenticate; a token for a bare client_id "
        "is a token for anyone who knows the id.",
    ),
    # N05: the audience.
    case(
        "claims.rfc7523.aud_token_url",
        "aud is the token endpoint URL",
        category="claims",
        run=_aud_token_url,
        profiles=_RFC,
        expect=Expect.ACCEPT,
        level=Level.SHOULD,
        severity=Severity.LOW,
        anchors=("N05",),
        references=(
            "RFC 7523 §3 (3)",
            "RFC 10070 (7523bis: aud is the issuer identifier)",
            "OIDF FAPI1AdvancedFinalClientAssertionIssAudSucceeds",
        ),
        rationale="RFC 7523 lets a client use the token endpoint URL as the audience; "
        "interoperable servers accept it. A server configured for RFC 10070's rule "
        '(audience_kind = "issuer") wants its issuer identifier instead: refusing the '
        "token URL is correct there, and accepting it is RFC 7523's leniency (judged by "
        "claims.rfc7523.aud_token_url_under_issuer_rule for client authentication).",
        correct='accepts it; under audience_kind = "issuer" either answer (the fact '
        "token_url_audience says which)",
    ),
    _claims_case(
        "claims.rfc7523.aud_other_server",
        "aud is another authorization server's token endpoint",
        mode=None,
        claims=lambda ctx: {"aud": _OTHER_SERVER},
        anchors=("N05",),
        references=("RFC 7523 §3 (3)", "OIDF PAREnsureClientAssertionWithWrongAudFails"),
        rationale="An assertion made for another server, replayed here, must not "
        "authenticate: the audience is the only claim that binds it to this server.",
    ),
    # N06, N07: what the form says about the client.
    _form_case(
        "envelope.rfc7523.client_id_mismatch",
        "The client_id parameter names another client than the assertion",
        mode="client_assertion",
        override=lambda ctx: {"client_id": _OTHER_CLIENT},
        severity=Severity.CRITICAL,
        anchors=("N06",),
        references=("RFC 7521 §4.2", "thunder-id PR #4853"),
        rationale="When client_id and the assertion disagree, a server that trusts one "
        "for identity and the other for the key issues a token to the wrong client.",
    ),
    case(
        "envelope.rfc7523.two_methods_basic",
        "HTTP Basic client authentication and a client assertion at once",
        category="envelope",
        run=lambda ctx: _send_form(
            ctx,
            ctx.sign(ctx.assertion()),
            mode="client_assertion",
            headers={"authorization": _basic(ctx)},
        ),
        profiles=_RFC,
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("N07",),
        references=("RFC 6749 §2.3", "thunder-id PR #4853"),
        rationale="RFC 6749 forbids more than one authentication method per request; a "
        "server that accepts two may validate only the weaker one.",
    ),
    _form_case(
        "envelope.rfc7523.two_methods_secret",
        "A client_secret parameter and a client assertion at once",
        mode="client_assertion",
        override=lambda ctx: {"client_secret": "conformance-not-a-secret"},
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("N07",),
        references=("RFC 6749 §2.3", "thunder-id PR #4853"),
        rationale="RFC 6749 forbids more than one authentication method per request; a "
        "server that accepts two may validate only the weaker one.",
    ),
    # N08: the jwt-bearer grant's form.
    _form_case(
        "envelope.rfc7523.grant_type_wrong",
        "A JWT assertion sent under the SAML bearer grant type",
        mode="jwt_bearer",
        override=lambda ctx: {"grant_type": _SAML_GRANT},
        anchors=("N08",),
        references=("RFC 7523 §2.1",),
        rationale="The grant type says how the assertion is processed; a server that "
        "ignores it processes tokens under rules they were not made for.",
    ),
    _form_case(
        "envelope.rfc7523.assertion_missing",
        "The jwt-bearer grant without an assertion",
        mode="jwt_bearer",
        drop=("assertion",),
        severity=Severity.CRITICAL,
        anchors=("N08",),
        references=("RFC 7523 §2.1",),
        rationale="The assertion is the grant: without one there is nothing to authorise a token.",
    ),
    # N09 and M02: the error codes.
    _error_code_case(
        "errors.rfc7523.invalid_grant_code",
        "An invalid jwt-bearer grant is refused with invalid_grant",
        mode="jwt_bearer",
        code="invalid_grant",
        statuses=(400,),
        severity=Severity.LOW,
        anchors=("N09", "M02"),
        references=("RFC 7523 §3.1", "RFC 6749 §5.2"),
        rationale="Clients and monitoring tell a bad grant from bad client credentials by "
        "the error code; the wrong one hides attacks and breaks retries.",
    ),
    _error_code_case(
        "errors.rfc7523.invalid_client_code",
        "An invalid client assertion is refused with invalid_client",
        mode="client_assertion",
        code="invalid_client",
        statuses=(400, 401),
        severity=Severity.LOW,
        anchors=("M02",),
        references=(
            "RFC 7523 §3.2",
            "RFC 6749 §5.2",
            "OIDF CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError",
        ),
        rationale="A failed client authentication is invalid_client (400, or 401); other "
        "codes mislead clients and hide credential attacks in the logs.",
    ),
    # N10: a signed request object is not a client assertion.
    _claims_case(
        "claims.rfc7523.request_object_no_sub",
        "A signed request object (no sub) used as the assertion",
        mode=None,
        claims=_no_sub_request_object,
        drop=("sub",),
        severity=Severity.HIGH,
        anchors=("N10",),
        references=(
            "RFC 7523 §3 (2)",
            "OIDF FAPI1AdvancedFinalEnsureClientAssertionWithNoSubFails",
        ),
        rationale="RFC 7523 requires sub. A request object has none, and is often visible "
        "to the browser: accepting it as an assertion turns any leaked request object into "
        "a credential.",
    ),
    # N12: jti reuse is MAY in RFC 7523.
    case(
        "claims.rfc7523.jti_reuse",
        "The same assertion (same jti) sent twice",
        category="claims",
        run=_jti_reuse,
        profiles=_RFC,
        expect=Expect.REJECT,
        level=Level.SHOULD,
        severity=Severity.MEDIUM,
        anchors=("N12",),
        references=("RFC 7523 §3 (7)", "OIDF CheckForClientAssertionJtiReuse"),
        correct="refuses the second use (RFC 7523 §3 lets the server keep used jti values); "
        "the observed answer is recorded as a fact",
        rationale="A captured assertion is a reusable credential until it expires unless "
        "the server remembers jti values; RFC 7523 makes this a MAY, so accepting the reuse "
        "is a warning (a should), never silence; [target.policy] jti_replay promotes it.",
    ),
    # the jwt-bearer grant: the token is for the assertion's subject
    case(
        "claims.rfc7523.issued_subject",
        "The jwt-bearer grant issues a token for the assertion's subject",
        category="claims",
        run=_issued_subject,
        profiles=_RFC,
        expect=Expect.ACCEPT,
        kind=Kind.SECURITY,  # judges whom the token is for: a misbound token
        severity=Severity.HIGH,
        anchors=("N10",),
        references=("RFC 7523 §3 (2.A)", "RFC 7521 §5.2"),
        correct="issues a token whose subject is the assertion's sub (skips for opaque tokens)",
        rationale="In the jwt-bearer grant sub names whom the token is for; a token issued "
        "for another principal (the client, a default user) is misbound.",
        control=False,
    ),
)

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {
    "N11": "needs a second key of another algorithm registered for the same client, and the "
    "client's registered token_endpoint_auth_signing_alg; the suite holds only the keys the "
    "server trusts and cannot register more",
}
