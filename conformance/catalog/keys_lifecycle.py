"""Key-life-cycle cases of the ``keys`` category (threat-catalog rows F07, F08, F14-F17).

What a target does with the JWKS over time, beyond ``keys.py``'s rotation, removal,
fetch-failure and flood cases: a removed key must be refused once the target's
documented cache time has passed (the time is measured and reported); the JWKS answering
with a redirect (to another origin, to a private address) must fail closed; a cached
key keeps working while the JWKS is down; and JWKS content a correct server may accept
or refuse (a key without ``alg``, a malformed key next to valid ones, ``key_ops`` for
signing only) — the target's policy is measured.

Every case needs the suite to serve the keys the target reads (``jwks_host``): the
embedded emulator, or a configured target with ``[jwks_host]`` (docs/configuration.md).
Waits go through ``ctx.sleep`` and last only as long as the target's documented
intervals (``jwks_host.refetch_s``, ``jwks_host.cache_s``) require.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import (
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    after_refetch,
    case,
    extra_jwks_entries,
    jwks_path,
    last_fetch,
    not_fetched,
    planted,
    relabelled,
    restored,
    signed,
    trusted_any,
    unique_kid,
    until_accepted,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "DEFAULT_CACHE_S", "NOT_APPLICABLE", "REVOCATION_SLACK_S"]

CATEGORY = "keys"
JWKS = ("jwks_host",)
#: The cache time assumed when the target declares none (``jwks_host.cache_s``): the
#: revocation case waits at most this long (plus the slack) for a removed key to go, and
#: a key still accepted then is measured (the case skips with the figure), not judged.
DEFAULT_CACHE_S = 300.0
#: Beyond the cache time, allow two refetch intervals and this much for the answer.
REVOCATION_SLACK_S = 1.0
#: A redirect to a private address: the target's own loopback, on the listener's port.
_PRIVATE_HOST = "127.0.0.1"


# --- revocation after the documented cache time ---------------------------------------------


def _revocation_limit(ctx: CaseContext) -> tuple[float, str]:
    """(how long a removed key may stay accepted, where that number comes from)."""
    declared = ctx.settings.jwks_cache_s
    refetch = float(ctx.settings.jwks_refetch_s)
    if declared is None:
        cache, source = DEFAULT_CACHE_S, f"no cache time declared: the bound {DEFAULT_CACHE_S:g} s"
    else:
        cache, source = float(declared), f"the documented cache time {float(declared):g} s"
    return cache + 2 * refetch + REVOCATION_SLACK_S, source


def _until_expiry(ctx: CaseContext) -> float:
    """Seconds until the target's copy of the JWKS reaches its documented cache time (from
    its last fetch, in the JWKS host's log); 0 when no cache time is documented. Before
    then a correct target may still accept the removed key: no need to ask."""
    cache = ctx.settings.jwks_cache_s
    last = last_fetch(ctx, jwks_path(ctx))
    if cache is None or last is None:
        return 0.0
    return last + float(cache) - time.time()


def _revoked_after_cache(ctx: CaseContext) -> Exchange:
    host = ctx.jwks_host
    # the rotation key's material under a kid of its own: nothing else uses it
    key = relabelled(ctx.keyring.rotation(ctx.key.alg), unique_kid("revoked"))
    ctx.keyring.publish(key)
    try:
        first = until_accepted(ctx, lambda: signed(ctx, key))
        if not first.accepted:
            ctx.error("a newly published key was never accepted; revocation cannot be tested")
    finally:
        host.revoke(key.kid)
    removed = time.monotonic()
    limit, source = _revocation_limit(ctx)
    poll = min(max(0.25, limit / 20), 15.0)
    while True:
        after = ctx.send(signed(ctx, key), label="after revocation")
        elapsed = time.monotonic() - removed
        if not after.accepted or elapsed > limit:
            break
        ctx.sleep(min(max(poll, _until_expiry(ctx)), max(0.05, limit - elapsed + 0.05)))
    if after.accepted:
        ctx.fact(
            "revoked_key_refused_after_s",
            "still accepted",
            f"a key removed from the JWKS was still accepted {elapsed:.1f} s later ({source})",
        )
        if ctx.settings.jwks_cache_s is None:
            # our bound is no contract of the target's (jose keeps a JWKS 10 minutes)
            ctx.skip(
                f"the removed key was still accepted {elapsed:.0f} s after its removal, but "
                "the target documents no JWKS cache time to judge that against: declare it "
                "([jwks_host] cache_s) and run again"
            )
    elif after.rejected:
        ctx.fact(
            "revoked_key_refused_after_s",
            round(elapsed, 1),
            f"seconds from the key's removal to the first refusal, polled every {poll:.2f} s "
            f"({source})",
        )
    return after


# --- the JWKS answering with a redirect -------------------------------------------------------


def _redirected(private: bool) -> Callable[[CaseContext], Exchange]:
    """After warm-up, the JWKS redirects to the attacker's JWKS (another origin, or the
    loopback address of a private network); a token signed by the attacker's key, with a
    kid only that JWKS names, must be refused and the redirect not followed."""

    def run(ctx: CaseContext) -> Exchange:
        host, listener = ctx.jwks_host, ctx.listener
        # warm: the target holds a good JWKS
        until_accepted(ctx, lambda: signed(ctx), new_kid=False)
        where = planted(ctx)
        location = where.jwks_url
        if private:
            port = listener.bound_url.rsplit(":", 1)[1]
            location = f"http://{_PRIVATE_HOST}:{port}{where.path}/jwks.json"
        attacker = ctx.keyring.attacker(ctx.key.alg)
        host.redirect(jwks_path(ctx), location)
        try:
            decided = after_refetch(ctx, lambda: signed(ctx, attacker))
        finally:
            host.restore(jwks_path(ctx))
        not_fetched(ctx, where)
        restored(ctx)  # leave the target with its JWKS again
        return decided

    return run


# --- a cached key during an outage ------------------------------------------------------------


def _cached_during_outage(ctx: CaseContext) -> Exchange:
    host = ctx.jwks_host
    # Warm, and fresh: an unknown kid makes the target fetch the JWKS now, so the key is
    # well inside its cache time when the outage starts.
    after_refetch(ctx, lambda: signed(ctx, kid=unique_kid("warm")))
    with host.failing(jwks_path(ctx), "500"):
        return ctx.send(signed(ctx), label="cached key, JWKS down")


# --- JWKS content whose handling is the target's policy ---------------------------------------


Entries = Callable[[CaseContext, str], list[Mapping[str, Any]]]


def _served(entries: Entries, *, accept: bool) -> Callable[[CaseContext], Exchange]:
    """Serve the JWKS plus ``entries(ctx, kid)`` and send a token signed by the trusted
    key's material under the new kid (ES384 where the target has it)."""

    def run(ctx: CaseContext) -> Exchange:
        kid = unique_kid("lifecycle")
        key = trusted_any(ctx, "ES384")
        with extra_jwks_entries(ctx, entries(ctx, kid)):
            wait = until_accepted if accept else after_refetch
            return wait(ctx, lambda: signed(ctx, key, kid=kid))

    return run


def _without_alg(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    jwk = dict(relabelled(trusted_any(ctx, "ES384"), kid).public_jwk)
    jwk.pop("alg", None)
    return [jwk]


def _key_ops_sign(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    jwk = dict(relabelled(trusted_any(ctx, "ES384"), kid).public_jwk)
    jwk.pop("use", None)
    return [{**jwk, "key_ops": ["sign"]}]


def _one_malformed(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    valid = dict(relabelled(trusted_any(ctx, "ES384"), kid).public_jwk)
    broken = {**valid, "kid": f"{kid}-broken", "x": "not base64url!", "y": 42}
    return [broken, {"kty": "RSA", "kid": f"{kid}-no-n", "e": "AQAB"}, valid]


_POLICY_WHY = (
    "How a target treats JWKS content that is unusual but not hostile is its policy; the "
    "answer is recorded so that the issuer knows which key shapes work."
)


def _cases() -> list[Case]:
    return [
        case(
            "keys.revocation.after_cache_time",
            "A key removed from the JWKS is refused once the target's documented cache time "
            "has passed (the time is measured)",
            category=CATEGORY,
            run=_revoked_after_cache,
            level=Level.MUST,
            severity=Severity.HIGH,
            rationale=(
                "Removing a key from the JWKS is how an issuer revokes a leaked key; a target "
                "that keeps trusting it past its documented cache time lets whoever holds the "
                "key keep minting accepted assertions."
            ),
            correct="refuses the removed key once its documented JWKS cache time has passed",
            references=("RFC 7517 §4.5", "OIDF oidcc-client-test-signing-key-rotation"),
            anchors=("F16",),
            needs=JWKS,
        ),
        case(
            "keys.jwks_outage.redirect_other_origin",
            "After warm-up the JWKS redirects to the attacker's JWKS on another origin: a "
            "token signed by the attacker is refused and the redirect not followed",
            category=CATEGORY,
            run=_redirected(private=False),
            level=Level.SHOULD,
            severity=Severity.HIGH,
            rationale=(
                "A JWKS fetch that follows redirects hands key selection to whoever controls "
                "a redirect on the issuer's host (an open redirect, a CDN rule): the keys "
                "must come from the configured URL only."
            ),
            correct="treats the redirect as a failed fetch: refuses the unknown key (4xx)",
            references=("RFC 8725bis §3.10", "OIDF AbstractValidateJWKs"),
            anchors=("F17",),
            needs=(*JWKS, "attacker_host"),
        ),
        case(
            "keys.jwks_outage.redirect_private",
            "After warm-up the JWKS redirects to a loopback (private) address: the unknown "
            "key is refused and the redirect not followed",
            category=CATEGORY,
            run=_redirected(private=True),
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "Following a JWKS redirect to a private address is server-side request "
                "forgery into the target's own network (metadata services, admin ports)."
            ),
            correct="treats the redirect as a failed fetch: refuses the unknown key (4xx)",
            references=("RFC 8725bis §3.10", "OWASP SSRF Prevention Cheat Sheet"),
            anchors=("F17",),
            needs=(*JWKS, "attacker_host"),
        ),
        case(
            "keys.jwks_outage.cached_key",
            "After warm-up, while the JWKS answers 500, a token signed by a cached key is "
            "still accepted",
            category=CATEGORY,
            run=_cached_during_outage,
            expect=Expect.ACCEPT,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "Failing closed for unknown keys must not turn an outage of the issuer's JWKS "
                "host into an outage of every sign-in: keys fetched before keep working "
                "until their cache time ends."
            ),
            references=("RFC 7517 §5", "OIDF AbstractValidateJWKs"),
            anchors=("F17",),
            needs=JWKS,
        ),
        case(
            "keys.jwks.no_alg",
            "A new key published without alg (RFC 7517: optional) verifies a token of its "
            "type and curve",
            category=CATEGORY,
            run=_served(_without_alg, accept=True),
            expect=Expect.ACCEPT,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=_POLICY_WHY + " alg is optional in a JWK and many issuers omit it.",
            references=("RFC 7517 §4.4",),
            anchors=("F07",),
            needs=JWKS,
        ),
        case(
            "keys.jwks.key_ops_sign",
            'A key published with key_ops ["sign"] (no "verify") is not used for a signature',
            category=CATEGORY,
            run=_served(_key_ops_sign, accept=False),
            level=Level.SHOULD,  # signed by trusted material: see kid_ignored_single_key
            severity=Severity.MEDIUM,
            rationale="key_ops without verify forbids verification with that key.",
            references=("RFC 7517 §4.3", "Wycheproof rejectWrongKeyOps"),
            anchors=("F08",),
            needs=JWKS,
        ),
        case(
            "keys.jwks.one_malformed_key",
            "A malformed EC key and an RSA key without n next to a new valid key: the valid "
            "key still works",
            category=CATEGORY,
            run=_served(_one_malformed, accept=True),
            expect=Expect.ACCEPT,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=_POLICY_WHY + " RFC 7517 §5 says to ignore keys one cannot use; "
            "refusing the whole set makes one bad entry an outage.",
            references=("RFC 7517 §5",),
            anchors=("F14",),
            needs=JWKS,
        ),
    ]


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this module that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
