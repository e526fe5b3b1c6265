"""The public case-authoring API: everything a case module imports, from one place.

The built-in category modules (``envelope``, ``claims``, ``algorithms``...) and an
organisation's own case modules use the same names, all from here; none imports from a
sibling category module. The model itself (:class:`Case`, :func:`case`, the enums and
:class:`CaseContext`) lives in the private ``_model`` module and is re-exported here
unchanged: one definition of each thing. Tokens beyond these helpers are forged with
``conformance.forge``. How to write a case: ``docs/writing-cases.md``.

A new case module (``acme_cases.py``, loaded with ``conformance run --cases acme_cases``
or through a ``conformance.cases`` entry point, see ``load_cases``)::

    from conformance.catalog.authoring import (
        Severity, claims_case, claims_with, signed_payload, token_case,
    )

    CASES = (
        claims_case(
            "claims.acme.tenant_missing", "No tenant claim",
            mutate=lambda a, ctx: a.without("tenant"),
            rationale="Our gateway routes on tenant: without one, a default tenant applies.",
            severity=Severity.MEDIUM,
        ),
        token_case(
            "claims.acme.tenant_null", "tenant is null", category="claims",
            build=lambda ctx: signed_payload(ctx, claims_with(ctx, tenant=None)),
            rationale="A null tenant must not match every tenant.",
        ),
    )
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._keyring import FAMILIES, kty_for
from ..forge import b64url_decode, b64url_encode, compact, split, standard_header
from ..targets.base import Session
from ._model import (
    CAPABILITIES,
    CATEGORIES,
    DYNAMIC,
    Build,
    Case,
    CaseContext,
    Expect,
    Kind,
    Level,
    Mutation,
    Recipe,
    Severity,
    case,
    claims_case,
    token_case,
)

if TYPE_CHECKING:
    from .._jose import SigningKey
    from ..targets.base import Exchange

__all__ = [
    "CAPABILITIES",
    "CATEGORIES",
    "DYNAMIC",
    "Build",
    "Case",
    "CaseContext",
    "Expect",
    "Kind",
    "Level",
    "Mutation",
    "Planted",
    "Recipe",
    "Severity",
    "after_refetch",
    "break_signature",
    "case",
    "claims_case",
    "claims_with",
    "extra_jwks_entries",
    "header_for",
    "issued_claims",
    "jwks_path",
    "kty_for",
    "last_fetch",
    "no_outbound_fetch",
    "not_fetched",
    "other_scope",
    "planted",
    "relabelled",
    "restored",
    "rewrite_claims",
    "scope_items",
    "signed",
    "signed_payload",
    "succeeded",
    "token_case",
    "trusted_any",
    "trusted_key",
    "trusted_of_family",
    "unique_kid",
    "unsigned_copy",
    "until_accepted",
    "with_bearer",
]


# --- building tokens ----------------------------------------------------------------------


def claims_with(ctx: CaseContext, **changes: Any) -> dict[str, Any]:
    """The claims of a fresh valid assertion (new jti, current times) with ``changes``
    applied (``None`` → null)."""
    claims = dict(ctx.assertion().claims)
    claims.update(changes)
    return claims


def header_for(key: SigningKey, **extra: Any) -> dict[str, Any]:
    """The header a correct signer would write for ``key``, updated with ``extra``."""
    return {"alg": key.alg, "kid": key.kid, "typ": "JWT", **extra}


def signed_payload(ctx: CaseContext, payload: Any, *, key: SigningKey | None = None) -> str:
    """A token whose payload is exactly ``payload`` (any JSON value, ``None`` → null, or
    raw ``bytes``), correctly signed with ``key`` (default the trusted key)."""
    chosen = key or ctx.key
    return compact(header_for(chosen), payload, key=chosen)


def signed(
    ctx: CaseContext,
    key: SigningKey | None = None,
    *,
    sign_alg: str | None = None,
    drop: tuple[str, ...] = (),
    payload: Any = None,
    header: Mapping[str, Any] | None = None,
    **extra: Any,
) -> str:
    """A fresh valid assertion signed by ``key`` (default the trusted key).

    ``extra`` changes header members (``alg="RS512"`` lies about the alg), ``drop`` removes
    some, ``header`` replaces the header outright; ``sign_alg`` is the algorithm the
    signature is really made with (default the key's); ``payload`` replaces the claims.
    """
    chosen = key or ctx.key
    head = dict(header) if header is not None else standard_header(chosen, drop=drop, **extra)
    body = claims_with(ctx) if payload is None else payload
    return compact(head, body, key=chosen.private_key, alg=sign_alg or chosen.alg)


def break_signature(token: str) -> str:
    """``token`` with every signature byte XORed with 0x5A (OIDF's invalidation)."""
    head, body, sig = token.split(".")
    broken = bytes(b ^ 0x5A for b in b64url_decode(sig)) or b"\x5a"
    return f"{head}.{body}.{b64url_encode(broken)}"


def _payload(ctx: CaseContext, token: str) -> tuple[list[str], dict[str, Any]]:
    parts = token.split(".")
    try:
        claims = json.loads(b64url_decode(parts[1])) if len(parts) == 3 else None
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        ctx.skip("the token is not a JWT with a JSON object payload")
        raise AssertionError("unreachable: skip raises")
    return parts, claims


def rewrite_claims(ctx: CaseContext, token: str, **changes: Any) -> str:
    """``token`` with claims changed and its original signature kept."""
    parts, claims = _payload(ctx, token)
    claims.update(changes)
    return ".".join((parts[0], b64url_encode(json.dumps(claims).encode()), parts[2]))


def unsigned_copy(ctx: CaseContext, token: str) -> str:
    """``token``'s claims re-issued with ``alg: none`` and no signature."""
    _, claims = _payload(ctx, token)
    return compact({"alg": "none", "typ": "JWT"}, claims)


# --- reading answers ----------------------------------------------------------------------


def issued_claims(
    ctx: CaseContext, exchange: Exchange, *, check: str | None = None
) -> dict[str, Any]:
    """The claims of the token ``exchange`` issued (unchecked); fails when there is none
    or it is not a decodable compact JWS. ``check`` names what the caller judges of them
    (an ``[issued] checks`` name of a profile, ``docs/profiles.md``): the case skips where
    the target's contract leaves it out, or issues opaque tokens; ``None`` (the default)
    for a caller that needs the claims to use the token, not to judge them."""
    token = exchange.issued_token
    # a clean refusal fails; anything unclean (a 2xx without a usable token) is an error
    ctx.check(ctx.accepted(exchange), "the valid assertion was not accepted")
    description = ctx.target.description
    if description.get("issued_format") == "opaque":
        ctx.skip('the target issues opaque tokens (its profile: [issued] format = "opaque")')
    declared = description.get("issued_checks")
    if check is not None and declared is not None and check not in declared:
        ctx.skip(f'the target\'s profile does not promise it: [issued] checks lacks "{check}"')
    try:
        _, claims, _ = split(token or "")
    except (ValueError, RecursionError):
        ctx.fail("the issued token is not a compact JWS with JSON header and claims")
        raise
    ctx.check(isinstance(claims, dict), "the issued token's claims are not a JSON object")
    return claims


def succeeded(exchange: Exchange) -> bool:
    """A 2xx answer (operations and logout answer without issuing a token)."""
    return exchange.status is not None and 200 <= exchange.status < 300


def scope_items(value: Any) -> list[str]:
    """The items of a space-delimited ``scope`` claim (empty when it is not a string)."""
    return value.split(" ") if isinstance(value, str) else []


def other_scope(ctx: CaseContext, *, avoid: Sequence[str] = ()) -> str:
    """A known scope different from ``avoid`` (default: from the first requested scope);
    skips the case when the target knows only one."""
    taken = set(avoid) or {ctx.settings.scopes[0]}
    for scope in (*ctx.settings.scopes, *ctx.settings.known_scopes):
        if scope not in taken:
            return str(scope)
    ctx.skip("needs two known scopes")
    raise AssertionError("unreachable: skip raises")


# --- recipes around the request -----------------------------------------------------------


def with_bearer(make: Callable[[CaseContext, Session], str]) -> Callable[[CaseContext], Exchange]:
    """A recipe that sends a valid assertion with ``make(ctx, real session)`` as the bearer."""

    def run(ctx: CaseContext) -> Exchange:
        real = ctx.session(0)
        fake = Session(
            subject=real.subject, token=make(ctx, real), environment_id=real.environment_id
        )
        return ctx.send(ctx.sign(ctx.assertion()), session=fake, label="broken bearer")

    return run


#: A fetch made in the background lands a moment after the answer: wait this long.
FETCH_GRACE_S = 0.3


@dataclass(frozen=True, slots=True)
class Planted:
    """A path unique to one case on the listener, and the URLs under it that the case
    plants in its token: a request to any of them can only come from that token."""

    base: str  # the listener's base URL (its public URL when it has one)
    path: str  # "/attacker/<hex>" or "/callback/<hex>"

    def url(self, suffix: str = "") -> str:
        return f"{self.base}{self.path}{suffix}"

    @property
    def jwks_url(self) -> str:
        """The attacker's JWKS, served under this path."""
        return self.url("/jwks.json")

    @property
    def cert_url(self) -> str:
        """A self-signed certificate of the attacker's key, served under this path."""
        return self.url("/cert.pem")


def planted(ctx: CaseContext, prefix: str = "/attacker") -> Planted:
    """A fresh :class:`Planted` path on the run's listener (skips without one)."""
    listener = ctx.listener
    return Planted(base=listener.base_url, path=listener.unique_path(prefix))


def not_fetched(ctx: CaseContext, where: Planted) -> None:
    """Fail, with the requests that came in as evidence (redacted), if anything fetched
    a URL under ``where``; waits :data:`FETCH_GRACE_S` for a fetch made in the background."""
    ctx.sleep(FETCH_GRACE_S)
    fetched = ctx.listener.requests(where.path)
    if fetched:
        shown = "; ".join(r.describe() for r in fetched[:3])
        more = f" (+{len(fetched) - 3} more)" if len(fetched) > 3 else ""
        ctx.fail(
            f"the target fetched the URL planted in the token {len(fetched)} time(s): {shown}{more}"
        )


def no_outbound_fetch(ctx: CaseContext, send: Callable[[str], Exchange]) -> Exchange:
    """Run ``send(url)`` with a fresh URL on the listener and fail if the target fetched
    it (the request is the evidence)."""
    where = planted(ctx, "/callback")
    exchange = send(where.url())
    not_fetched(ctx, where)
    return exchange


# --- keys and the JWKS host ---------------------------------------------------------------


def trusted_key(ctx: CaseContext, alg: str, *alternatives: str) -> SigningKey:
    """The target's trusted key for ``alg``, else for the first of ``alternatives`` it
    has (the default key first when it is one of them); skips the case when it has none
    ("needs an ES384 key (EC) registered at the target; this target has RS256 (RSA)"). For cases
    about one algorithm (or a few); a valid signature by any trusted key is ``ctx.key``."""
    wanted = (alg, *alternatives)
    has = tuple(ctx.keyring.trusted_algs)
    default = ctx.settings.default_alg
    for chosen in (default, *wanted) if default in wanted else wanted:
        if chosen in has:
            return ctx.keyring.trusted(chosen)
    ctx.skip(ctx.keyring.missing(wanted))
    raise AssertionError("unreachable: skip raises")


def trusted_any(ctx: CaseContext, *prefer: str) -> SigningKey:
    """A trusted key for a case that any key does: the first of ``prefer`` the target has,
    else the default key. Never skips (``prefer`` only keeps a case on the key it was
    written for where the target has it)."""
    has = tuple(ctx.keyring.trusted_algs)
    for alg in prefer:
        if alg in has:
            return ctx.keyring.trusted(alg)
    return ctx.key


def trusted_of_family(ctx: CaseContext, family: str, *, prefer: Sequence[str] = ()) -> SigningKey:
    """A trusted key of ``family`` (a JWK ``kty``: ``"RSA"``, ``"EC"``, ``"OKP"``): the
    default key when it is one, else the first of ``prefer`` the target has, else its first
    key of that family; skips the case when it has none ("needs an EC (ECDSA) key
    registered at the target; this target has RS256 (RSA)"). For cases about one key family
    (ECDSA signatures, RSA padding, key confusion with an RSA public key...). Raises
    ``ValueError`` for an unknown family."""
    if family not in FAMILIES:
        raise ValueError(f"unknown key family {family!r}; expected one of {', '.join(FAMILIES)}")
    has = tuple(ctx.keyring.trusted_algs)
    default = ctx.settings.default_alg
    ordered = (default, *prefer, *has) if default in has else (*prefer, *has)
    for alg in ordered:
        if alg in has and kty_for(alg) == family:
            return ctx.keyring.trusted(alg)
    ctx.skip(ctx.keyring.missing(family))
    raise AssertionError("unreachable: skip raises")


def relabelled(key: SigningKey, kid: str, **jwk_changes: Any) -> SigningKey:
    """``key``'s material under another ``kid``, with its published JWK changed."""
    jwk = {**key.public_jwk, "kid": kid, **jwk_changes}
    return replace(key, kid=kid, public_jwk=jwk, role="crafted")


def unique_kid(prefix: str) -> str:
    """A kid no JWKS cache has seen (so the target must refetch to find it)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def jwks_path(ctx: CaseContext) -> str:
    """The path of the trusted JWKS on the suite's JWKS host."""
    return str(urlsplit(ctx.jwks_host.jwks_url).path)


@contextmanager
def extra_jwks_entries(ctx: CaseContext, entries: list[Mapping[str, Any]]) -> Iterator[None]:
    """Serve the trusted JWKS plus ``entries`` (any JSON, hostile JWKs included) for the
    duration of the block; the keyring itself is not changed."""
    host = ctx.jwks_host
    body = {"keys": [*ctx.keyring.published_jwks()["keys"], *entries]}
    with host.overriding(jwks_path(ctx), body):
        yield


def _refetch_wait(ctx: CaseContext) -> tuple[float, float]:
    """(how long to wait for a refetch, how often to poll), from the interval the target
    documents between two JWKS refetches on an unknown kid (the reference policy allows
    one refetch per second; allow for a refetch another case just made)."""
    interval = float(ctx.settings.jwks_refetch_s)
    return 4 * interval + 0.5, max(0.05, interval / 2)


#: sends at a moment the target may refetch (:func:`_refetch_allowed`) that did not make
#: it fetch, after which :func:`after_refetch` concludes it does not look this kid up
ALLOWED_MISSES = 2
#: added to the documented interval before a send counts as "a refetch was allowed"
_REFETCH_SLACK_S = 0.02


def last_fetch(ctx: CaseContext, path: str) -> float | None:
    """When the JWKS host last answered a fetch of ``path`` (Unix seconds), if ever."""
    times = [r.time for r in ctx.jwks_host.requests(path) if r.path == path]
    return max(times) if times else None


def _refetch_allowed(ctx: CaseContext, path: str, at: float | None) -> bool:
    """Whether a send made at ``at`` (Unix seconds) came at least the documented refetch
    interval after the target's last fetch of ``path``: a target that looks the token's
    kid up had to fetch then."""
    if at is None:
        return False
    last = last_fetch(ctx, path)
    return last is None or at >= last + float(ctx.settings.jwks_refetch_s) + _REFETCH_SLACK_S


def _until_refetch(ctx: CaseContext, path: str) -> float:
    """Seconds until the target may refetch ``path`` again (its last fetch, in the JWKS
    host's log, plus the documented interval); 0 or less: it may now."""
    last = last_fetch(ctx, path)
    if last is None:
        return 0.0
    return last + float(ctx.settings.jwks_refetch_s) + _REFETCH_SLACK_S - time.time()


def _refetch_due(ctx: CaseContext, path: str) -> None:
    """Wait until the target may refetch ``path``: a token sent before then is answered
    from the cache the target already has (a request that proves nothing)."""
    pause = _until_refetch(ctx, path)
    if pause > 0:
        ctx.sleep(min(pause, 2 * float(ctx.settings.jwks_refetch_s) + 0.5))


def _next_poll(ctx: CaseContext, path: str, poll: float) -> float:
    """How long to wait before the next send: until the target may refetch ``path`` again,
    at least ``poll`` / 2 and at most ``4 * poll``."""
    if last_fetch(ctx, path) is None:
        return poll
    return min(max(poll / 2, _until_refetch(ctx, path)), 4 * poll)


def after_refetch(ctx: CaseContext, make: Callable[[], str], *, label: str = "attempt") -> Exchange:
    """Send fresh tokens from ``make`` until one was answered after the target fetched the
    JWKS again, and return that exchange (or the first acceptance, or the last answer);
    ``label``: the exchanges' label.

    Tokens carry a kid the target has not seen, so a correct target refetches, but at most
    once per interval: one answer alone may predate the fetch and prove nothing. Every
    answer before the deciding one must be a clean refusal, never a 5xx.
    """
    host = ctx.jwks_host
    path = jwks_path(ctx)
    wait, poll = _refetch_wait(ctx)
    _refetch_due(ctx, path)
    deadline = time.monotonic() + wait
    misses = 0
    while True:
        before = host.fetch_count(path)
        allowed = _refetch_allowed(ctx, path, time.time())
        exchange = ctx.send(make(), label=label)
        if exchange.accepted or host.fetch_count(path) > before:
            return exchange
        ctx.check(not exchange.misbehaved, "the target erred while its JWKS was being refetched")
        misses += allowed
        if misses >= ALLOWED_MISSES or time.monotonic() > deadline:
            # No fetch when one was allowed: the target refused before looking keys up
            # (HS*, an alg it does not take, say); more tokens would not change that.
            return exchange
        ctx.sleep(_next_poll(ctx, path, poll))


def restored(ctx: CaseContext) -> None:
    """Leave the target holding the good JWKS again after an outage or a redirect.

    A token for a newly published key counts only once it is accepted after the target
    fetched the JWKS again: a target that fails open accepts earlier, from a broken
    cache, and the next case would then start from that broken state (its verdict
    would hang on how many milliseconds passed between the two cases)."""
    host, path = ctx.jwks_host, jwks_path(ctx)
    key = relabelled(ctx.key, unique_kid("restore"))
    ctx.keyring.publish(key)
    before = host.fetch_count(path)
    wait, poll = _refetch_wait(ctx)
    try:
        _refetch_due(ctx, path)
        deadline = time.monotonic() + wait
        while True:
            exchange = ctx.send(signed(ctx, key), label="JWKS restored")
            if exchange.accepted and host.fetch_count(path) > before:
                return
            if exchange.misbehaved or time.monotonic() > deadline:
                return
            ctx.sleep(_next_poll(ctx, path, poll))
    finally:
        host.revoke(key.kid)


def until_accepted(ctx: CaseContext, make: Callable[[], str], *, new_kid: bool = True) -> Exchange:
    """Send fresh tokens from ``make`` until one is accepted or the refetch wait is over.
    ``new_kid``: the tokens name a kid the target has not fetched yet, so the first is
    sent once the target may refetch (an earlier one could only be refused)."""
    wait, poll = _refetch_wait(ctx)
    path = jwks_path(ctx)
    if new_kid:
        _refetch_due(ctx, path)
    deadline = time.monotonic() + wait
    while True:
        exchange = ctx.send(make())
        if exchange.accepted or exchange.misbehaved or time.monotonic() > deadline:
            return exchange
        ctx.sleep(_next_poll(ctx, path, poll))
