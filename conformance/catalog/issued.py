"""Cases of the ``issued`` category: the token the exchange returns (rows L01-L11).

The claims are read without checking the signature (the SDK does the same); the signature
is verified separately against the keys the target publishes, when it publishes them.
Where the target exposes the guarded operation, the token is also used: it must work for
its scope and user only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._settings import ALLOWED_ALGS as _POLICY_ALGS
from ..forge import split
from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Kind,
    Level,
    Severity,
    case,
    issued_claims,
    other_scope,
    rewrite_claims,
    scope_items,
    unsigned_copy,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange, Session

__all__ = ["ALLOWED_ALGS", "CASES", "CATEGORY", "COMMON_SECRETS", "NOT_APPLICABLE"]

CATEGORY = "issued"

#: what a correct issuer may sign with: asymmetric algorithms, or HMAC (checked by L11)
ALLOWED_ALGS = frozenset({*_POLICY_ALGS, "HS256", "HS384", "HS512"})
#: jwt_tool's playbook tries these first; a secret among them lets anyone mint tokens
COMMON_SECRETS = (
    "",
    "secret",
    "Secret",
    "secretkey",
    "secret-key",
    "your-256-bit-secret",
    "password",
    "changeme",
    "changeit",
    "jwt",
    "JWT",
    "key",
    "test",
    "dev",
    "admin",
    "123456",
    "qwerty",
    "dynamic",
    "default",
    "supersecret",
)

_WHY = (
    "The elevated token is what the sensitive operation trusts: a broad, long-lived, "
    "unbound or forgeable token turns one step-up into a standing privilege."
)


def _issue(
    ctx: CaseContext,
    *,
    check: str | None,
    scope: str | None = None,
    session: Session | None = None,
) -> tuple[Exchange, dict[str, Any]]:
    """Exchange a valid assertion; its answer and the issued token's claims, for judging
    ``check`` (an ``[issued] checks`` name; ``None``: the token is used, not judged)."""
    exchange = ctx.send(ctx.sign(ctx.assertion(scope=scope)), session=session, label="issue")
    return exchange, issued_claims(ctx, exchange, check=check)


def _parts(ctx: CaseContext, exchange: Exchange) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """The issued token's header, claims and signature, to judge how it is signed."""
    issued_claims(ctx, exchange, check="signature")
    token = exchange.issued_token or ""
    ctx.check(token.count(".") == 2, f"the issued token has {token.count('.') + 1} segments, not 3")
    header, claims, signature = split(token)
    return header, claims, signature


def _response_shape(ctx: CaseContext) -> None:
    exchange = ctx.valid(label="issue")
    # a refusal of the valid assertion fails; no answer, a 3xx or a 5xx proves nothing
    ctx.check(not ctx.refused(exchange), f"the valid assertion was refused ({exchange.status})")
    ctx.check(
        exchange.status == 200, f"the answer to a valid assertion is {exchange.status}, not 200"
    )
    body = exchange.json()
    field = "elevatedAccessToken" if ctx.settings.profile == "dynamic" else "access_token"
    # a declarative profile names where its token is (dotted: [classify] token)
    field = str(ctx.target.description.get("token_path") or field)
    value: Any = body
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    ctx.check(isinstance(value, str), f"the body has no string {field}")


def _is_jws(ctx: CaseContext) -> None:
    exchange = ctx.valid(label="issue")
    header, _, signature = _parts(ctx, exchange)
    alg = header.get("alg")
    ctx.fact("issued_token_alg", alg)
    ctx.check(
        alg in ALLOWED_ALGS, f"the issued token's alg is {alg!r}, not an allow-listed algorithm"
    )
    ctx.check(bool(signature), "the issued token has an empty signature")


def _verifies(ctx: CaseContext) -> None:
    import jwt  # lazy: the catalog loads in every pytest run

    exchange = ctx.valid(label="issue")
    header, _, _ = _parts(ctx, exchange)
    jwks = ctx.token_jwks()
    if not jwks or not isinstance(jwks.get("keys"), list):
        ctx.skip("the target publishes no keys for its tokens")
        return
    keys = [k for k in jwks["keys"] if isinstance(k, dict) and k.get("kid") == header.get("kid")]
    ctx.check(len(keys) == 1, f"the published keys hold {len(keys)} key(s) with the token's kid")
    try:
        key = jwt.PyJWK(keys[0], algorithm=str(header.get("alg"))).key
        jwt.decode(
            exchange.issued_token or "",
            key,
            algorithms=[str(header.get("alg"))],
            options={"verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        ctx.fail(f"the issued token does not verify with the published key: {exc}")


def _scope_exact(ctx: CaseContext) -> None:
    requested = str(ctx.settings.scopes[0])
    _, claims = _issue(ctx, check="scope", scope=requested)
    ctx.check(
        scope_items(claims.get("scope")) == [requested],
        f"the token's scope is {claims.get('scope')!r}, not {requested!r}",
    )


def _short_lived(ctx: CaseContext) -> None:
    _, claims = _issue(ctx, check="lifetime")
    exp, iat, now = claims.get("exp"), claims.get("iat"), ctx.now()
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        ctx.fail("the issued token has no numeric exp")
        return
    # Undeclared numbers are not assumed: a hard bound no step-up token reasonably exceeds
    # (a day) and a clock skew of at most 5 minutes.
    declared = ctx.settings.max_token_lifetime_s
    limit = 86400 if declared is None else int(declared)
    skew = 300 if ctx.settings.leeway_s is None else int(ctx.settings.leeway_s)
    lifetime = float(exp) - now
    ctx.fact("token_lifetime_s", round(lifetime))
    ctx.check(lifetime > 0, "the issued token is already expired")
    ctx.check(
        lifetime <= limit + skew,
        f"the token lives {lifetime:.0f} s, over {limit} s",
    )
    if isinstance(iat, int | float):
        ctx.check(
            abs(float(iat) - now) <= skew,
            f"iat is {float(iat) - now:+.0f} s off the server clock",
        )


def _session_expiry(session: Session) -> float | None:
    try:
        _, claims, _ = split(session.token)
    except ValueError:
        return None
    exp = claims.get("exp")
    return float(exp) if isinstance(exp, int | float) else None


def _not_outliving(ctx: CaseContext) -> None:
    session = ctx.session(0)
    session_exp = _session_expiry(session)
    if session_exp is None:
        ctx.skip("the session token carries no readable exp")
        return
    _, claims = _issue(ctx, check="lifetime", session=session)
    exp = claims.get("exp")
    ctx.check(
        isinstance(exp, int | float) and float(exp) <= session_exp,
        "the elevated token outlives its session",
    )


def _bound(ctx: CaseContext) -> None:
    session = ctx.session(0)
    _, claims = _issue(ctx, check="subject", session=session)
    ctx.check(
        claims.get("sub") in {session.subject, session.user_id},
        f"the token's sub {claims.get('sub')!r} is not the session's user",
    )
    environment = str(ctx.settings.environment_id)
    named = any(
        environment in str(v) for k, v in claims.items() if k in {"environment_id", "iss", "aud"}
    )
    ctx.check(named, "the token names no environment (environment_id, iss or aud)")


def _single_use_flag(ctx: CaseContext) -> None:
    _, claims = _issue(ctx, check="single_use")
    ctx.check(
        claims.get("singleUse") is True, f"singleUse is {claims.get('singleUse')!r}, not true"
    )


def _fresh_each_time(ctx: CaseContext) -> None:
    first, one = _issue(ctx, check="single_use")
    second, two = _issue(ctx, check="single_use")
    ctx.check(first.issued_token != second.issued_token, "two verifies returned the same token")
    if "jti" in one or "jti" in two:
        ctx.check(one.get("jti") != two.get("jti"), "two issued tokens share their jti")


_DIGESTS: Mapping[str, Callable[[], Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}


def _hmac_secret(ctx: CaseContext) -> None:
    exchange = ctx.valid(label="issue")
    header, _, signature = _parts(ctx, exchange)
    alg = str(header.get("alg"))
    if not alg.startswith("HS"):
        ctx.fact("issued_token_hmac", False)
        return
    digest = _DIGESTS.get(alg)
    if digest is None:
        ctx.fail(f"the issued token uses an unknown HMAC alg {alg!r}")
        return
    token = exchange.issued_token or ""
    signing_input = token.rsplit(".", 1)[0].encode()
    candidates = (*COMMON_SECRETS, str(ctx.settings.environment_id), str(ctx.settings.issuer))
    for secret in candidates:
        mac = hmac.new(secret.encode(), signing_input, digest).digest()
        ctx.check(
            not hmac.compare_digest(mac, signature),
            "the issued token's HMAC secret is in a common-secrets list",
        )


# --- the guarded operation -----------------------------------------------------------------


def _operation(
    use: Callable[[CaseContext, Session, str, str], Exchange],
) -> Callable[[CaseContext], None]:
    """Issue a token for user A and scope S, try ``use`` (must be refused), then the
    token's genuine use (must work: otherwise the refusal proves nothing)."""

    def run(ctx: CaseContext) -> None:
        session = ctx.session(0)
        scope = str(ctx.settings.scopes[0])
        exchange, _ = _issue(ctx, check=None, scope=scope, session=session)
        token = exchange.issued_token or ""
        misuse = use(ctx, session, token, scope)
        ctx.check(
            ctx.refused(misuse),
            f"the operation accepted the misused token (status {misuse.status})",
        )
        genuine = ctx.operation(session, token, scope, label="genuine use")
        ctx.check(
            not ctx.refused(genuine),
            f"the token did not work for its own scope and user (status {genuine.status})",
        )

    return run


def _other_scope_use(ctx: CaseContext, session: Session, token: str, scope: str) -> Exchange:
    return ctx.operation(session, token, other_scope(ctx, avoid=[scope]), label="other scope")


def _other_user_use(ctx: CaseContext, session: Session, token: str, scope: str) -> Exchange:
    return ctx.operation(ctx.session(1), token, scope, label="other user's session")


def _other_environment_use(ctx: CaseContext, session: Session, token: str, scope: str) -> Exchange:
    other = ctx.session_in_other_environment(0)
    return ctx.operation(other, token, scope, label="same user, other environment")


def _tampered_use(ctx: CaseContext, session: Session, token: str, scope: str) -> Exchange:
    """The token with its scope rewritten and its signature kept."""
    wanted = other_scope(ctx, avoid=[scope])
    forged = rewrite_claims(ctx, token, scope=wanted)
    return ctx.operation(session, forged, wanted, label="tampered token")


def _unsigned_use(ctx: CaseContext, session: Session, token: str, scope: str) -> Exchange:
    """The token's own claims re-issued with alg none."""
    return ctx.operation(session, unsigned_copy(ctx, token), scope, label="alg none token")


def _cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _WHY,
        "expect": Expect.ACCEPT,
        # each judges the issued token or its use: a failure is a token misissued or misused
        "kind": Kind.SECURITY,
        "control": False,
        "references": ("Dynamic docs: scope-bound, short-lived elevated token",),
    }
    dynamic = {**common, "profiles": DYNAMIC}
    operation = {
        **dynamic,
        "severity": Severity.CRITICAL,
        "needs": ("sessions", "sensitive_operation"),
    }
    return [
        case(
            "issued.response.shape",
            "A 200 JSON body with the token as a string",
            run=_response_shape,
            severity=Severity.MEDIUM,
            anchors=("L01",),
            correct="answers 200 with the token in its documented field",
            **{**common, "kind": Kind.INTEROP},
        ),
        case(
            "issued.token.is_jws",
            "The token is a 3-part JWS with an allow-listed alg",
            run=_is_jws,
            severity=Severity.CRITICAL,
            anchors=("L02",),
            correct="issues a signed JWS (never alg none)",
            **common,
        ),
        case(
            "issued.token.verifies",
            "The token verifies with the target's published key",
            run=_verifies,
            severity=Severity.HIGH,
            anchors=("L02",),
            correct="issues a token that verifies with its published key",
            **common,
        ),
        case(
            "issued.token.scope_exact",
            "The token carries exactly the requested scope",
            run=_scope_exact,
            severity=Severity.HIGH,
            anchors=("L03",),
            correct="grants exactly the requested scope, nothing broader",
            **dynamic,
        ),
        case(
            "issued.token.short_lived",
            "The token expires within the documented lifetime",
            run=_short_lived,
            severity=Severity.HIGH,
            anchors=("L04",),
            correct="issues a token whose exp is at most the documented lifetime ahead",
            **common,
        ),
        case(
            "issued.token.not_outliving_session",
            "The token does not outlive the session it elevates",
            run=_not_outliving,
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            anchors=("L05",),
            needs=("sessions",),
            **dynamic,
        ),
        case(
            "issued.token.bound",
            "The token names the session's user and the environment",
            run=_bound,
            severity=Severity.HIGH,
            anchors=("L06",),
            needs=("sessions",),
            **dynamic,
        ),
        case(
            "issued.token.single_use_flag",
            "The token says singleUse: true",
            run=_single_use_flag,
            severity=Severity.MEDIUM,
            anchors=("L07",),
            **dynamic,
        ),
        case(
            "issued.token.fresh_each_time",
            "Two verifies give two different tokens",
            run=_fresh_each_time,
            severity=Severity.MEDIUM,
            anchors=("L08",),
            **common,
        ),
        case(
            "issued.token.hmac_secret_not_common",
            "An HMAC-signed token does not use a common secret",
            run=_hmac_secret,
            severity=Severity.CRITICAL,
            anchors=("L11",),
            references=("jwt_tool playbook (weak HMAC crack)", "8725bis §3.5"),
            **{k: v for k, v in common.items() if k != "references"},
        ),
        case(
            "issued.operation.other_scope",
            "The token is refused for an operation of another scope",
            run=_operation(_other_scope_use),
            anchors=("L09",),
            **operation,
        ),
        case(
            "issued.operation.other_user",
            "The token is refused with another user's session",
            run=_operation(_other_user_use),
            anchors=("L10",),
            **{**operation, "needs": ("sessions", "second_user", "sensitive_operation")},
        ),
        case(
            "issued.operation.other_environment",
            "The token is refused in another environment (same user)",
            run=_operation(_other_environment_use),
            anchors=("L10",),
            **{**operation, "needs": ("sessions", "second_environment", "sensitive_operation")},
        ),
        case(
            "issued.operation.tampered_scope",
            "A token whose scope was rewritten (signature kept) is refused",
            run=_operation(_tampered_use),
            anchors=("L02", "L09"),
            **operation,
        ),
        case(
            "issued.operation.unsigned",
            "The token's claims re-issued with alg none are refused",
            run=_operation(_unsigned_use),
            anchors=("L02",),
            **operation,
        ),
    ]


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
