"""Cases of the ``keys`` category: key selection and the JWKS (threat-catalog rows F01-F18).

Unknown and empty ``kid``s, a known ``kid`` with someone else's signature, selection
without ``kid``, hostile JWKS content (duplicate kids, decoys, ``use: enc``, a 1024-bit
key, ``e = 1``, invalid points, symmetric and private material, unknown key types),
rotation, revocation, fetch failures and a random-kid flood.

Cases that change what the JWKS serves use :func:`algorithms.extra_jwks_entries` (one
case's override; the keyring is not changed) and a kid the target has never seen, so
that a correct target refetches; :func:`algorithms.after_refetch` then judges the answer
given after that refetch, not one the target gave from its old copy.

Keys: a case about one key family (the trusted kid of an RSA, EC or Ed25519 key; EC or
RSA JWK members) takes the target's key of that family and skips without one; a case any
key does (selection without kid, ``use``/``key_ops``, rotation) takes the key it was
written for where the target has it, else the default key (``trusted_any``), so that it
runs on a target with a single key.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._keyring import private_jwk
from ..forge import b64url_decode, b64url_encode, compact, e_equals_one_signature
from .authoring import (
    Case,
    CaseContext,
    Expect,
    Level,
    Recipe,
    Severity,
    after_refetch,
    case,
    claims_with,
    extra_jwks_entries,
    jwks_path,
    kty_for,
    relabelled,
    restored,
    signed,
    token_case,
    trusted_any,
    trusted_key,
    trusted_of_family,
    unique_kid,
    until_accepted,
)

if TYPE_CHECKING:
    from .._jose import SigningKey
    from ..targets.base import Exchange

__all__ = [
    "CASES",
    "CATEGORY",
    "FAILURE_MODES",
    "FLOOD_KIDS",
    "FLOOD_MAX_FETCHES",
    "JWKS",
    "NOT_APPLICABLE",
]

CATEGORY = "keys"
JWKS = ("jwks_host",)
#: The JWKS host's failure modes (``conformance._jwks_host.FAILURE_MODES``; a test pins it).
FAILURE_MODES = (
    "500",
    "slow",
    "oversized",
    "invalid_json",
    "html",
    "keys_not_array",
    "empty",
    "timeout",
)
#: At most this many JWKS fetches for a burst of random kids (one per refetch interval).
FLOOD_KIDS = 20
FLOOD_MAX_FETCHES = 3


# --- plain selection cases ---------------------------------------------------------------


def _signed_by(role: str, alg: str) -> Callable[[CaseContext], str]:
    """Signed by the ``role`` key under the kid of a trusted key: for the attacker, the
    target's key of ``alg``'s family (skips without one); for the other environment, the
    key of ``alg`` or the default one. The signer has the trusted key's alg."""

    def build(ctx: CaseContext) -> str:
        if role == "attacker":
            trusted = trusted_of_family(ctx, kty_for(alg), prefer=(alg,))
            signer = ctx.keyring.attacker(trusted.alg)
        else:
            trusted = trusted_any(ctx, alg)
            signer = ctx.keyring.other_environment(trusted.alg)
        return signed(ctx, signer, kid=trusted.kid)

    return build


def _no_kid_ambiguous(ctx: CaseContext) -> Exchange:
    """Two published keys of one alg (ES512 where the target has it) and a token without
    kid."""
    trusted = trusted_any(ctx, "ES512")
    rotation = ctx.keyring.rotation(trusted.alg)
    ctx.keyring.publish(rotation)
    try:
        until_accepted(ctx, lambda: signed(ctx, rotation))
        return ctx.send(signed(ctx, trusted, drop=("kid",)))
    finally:
        ctx.jwks_host.revoke(rotation.kid)


# --- hostile JWKS content ------------------------------------------------------------------


def _with_entries(
    entries: Callable[[CaseContext, str], list[Mapping[str, Any]]],
    token: Callable[[CaseContext, str], str],
    *,
    accept: bool = False,
) -> Recipe:
    """Serve the JWKS plus ``entries(ctx, kid)`` and send ``token(ctx, kid)`` for a new kid."""

    def run(ctx: CaseContext) -> Exchange:
        kid = unique_kid("crafted")
        with extra_jwks_entries(ctx, entries(ctx, kid)):
            wait = until_accepted if accept else after_refetch
            return wait(ctx, lambda: token(ctx, kid))

    return run


Pick = Callable[[CaseContext], "SigningKey"]


def _any(alg: str) -> Pick:
    """The trusted ``alg`` key where the target has one, else the default key."""
    return lambda ctx: trusted_any(ctx, alg)


def _ec(ctx: CaseContext) -> SigningKey:
    """The target's EC key (ES256 preferred); skips without one."""
    return trusted_of_family(ctx, "EC", prefer=("ES256",))


def _rs(ctx: CaseContext) -> SigningKey:
    """The target's RS* (PKCS#1 v1.5) key; skips without one."""
    return trusted_key(ctx, "RS256", "RS384", "RS512")


def _sign_as(pick: Pick) -> Callable[[CaseContext, str], str]:
    """Signed by the picked trusted key's material under ``kid``."""
    return lambda ctx, kid: signed(ctx, pick(ctx), kid=kid)


def _relabel_entry(
    pick: Pick, **changes: Any
) -> Callable[[CaseContext, str], list[Mapping[str, Any]]]:
    """The picked trusted key under the new kid, its JWK members changed."""
    return lambda ctx, kid: [dict(relabelled(pick(ctx), kid, **changes).public_jwk)]


#: Another curve for each, for a JWK that names the wrong one.
_OTHER_CURVE = {"P-256": "P-384", "P-384": "P-256", "P-521": "P-256"}


def _wrong_curve(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    jwk = dict(relabelled(_ec(ctx), kid).public_jwk)
    return [{**jwk, "crv": _OTHER_CURVE[jwk["crv"]]}]


def _other_curve_key(ctx: CaseContext) -> tuple[SigningKey, str]:
    """(a key of another curve, the target's EC alg to publish it under)."""
    alg = _ec(ctx).alg
    other = "ES384" if alg != "ES384" else "ES256"
    has = other in ctx.keyring.trusted_algs
    return (ctx.keyring.trusted(other) if has else ctx.keyring.rotation(other)), alg


def _curve_mismatch_entries(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    key, alg = _other_curve_key(ctx)
    return [dict(relabelled(key, kid, alg=alg).public_jwk)]


def _curve_mismatch_token(ctx: CaseContext, kid: str) -> str:
    key, alg = _other_curve_key(ctx)
    return signed(ctx, key, sign_alg=alg, kid=kid, alg=alg)


def _duplicate_kid_entries(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    key = trusted_any(ctx, "ES384")
    other = ctx.keyring.other_environment(key.alg)
    return [
        dict(relabelled(other, kid).public_jwk),
        dict(relabelled(key, kid).public_jwk),
    ]


#: The algorithms of the decoys (other environment keys) that share the signer's kid.
_DECOY_ALGS = ("ES256", "EdDSA", "PS256", "RS256")


def _decoy_entries(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    signer = trusted_any(ctx, "RS256")
    algs = [alg for alg in _DECOY_ALGS if alg != signer.alg][:3]
    decoys = [relabelled(ctx.keyring.other_environment(alg), kid).public_jwk for alg in algs]
    return [*map(dict, decoys), dict(relabelled(signer, kid).public_jwk)]


def _weak_entries(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    return [dict(relabelled(ctx.keyring.weak_rsa(), kid).public_jwk)]


def _weak_token(ctx: CaseContext, kid: str) -> str:
    return signed(ctx, ctx.keyring.weak_rsa(), kid=kid)


def _e_one_token(ctx: CaseContext, kid: str) -> str:
    key = _rs(ctx)
    size = (key.public_key.key_size + 7) // 8
    return e_equals_one_signature(signed(ctx, key, kid=kid), key.alg, size=size)


def _point_off_curve(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    jwk = dict(relabelled(_ec(ctx), kid).public_jwk)
    raw = b64url_decode(jwk["y"])
    y = int.from_bytes(raw, "big")
    jwk["y"] = b64url_encode(((y + 1) % (1 << (8 * len(raw)))).to_bytes(len(raw), "big"))
    return [jwk]


def _symmetric_entries(secret: bytes) -> Callable[[CaseContext, str], list[Mapping[str, Any]]]:
    def entries(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
        return [
            {"kty": "oct", "kid": kid, "use": "sig", "alg": "HS256", "k": b64url_encode(secret)}
        ]

    return entries


def _hmac_token(secret: bytes) -> Callable[[CaseContext, str], str]:
    def build(ctx: CaseContext, kid: str) -> str:
        return compact({"alg": "HS256", "typ": "JWT", "kid": kid}, claims_with(ctx), key=secret)

    return build


def _private_entries(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    return [private_jwk(relabelled(trusted_any(ctx, "ES384"), kid))]


def _unknown_kinds(ctx: CaseContext, kid: str) -> list[Mapping[str, Any]]:
    valid = dict(relabelled(trusted_any(ctx, "ES384"), kid).public_jwk)
    junk = [
        {"kty": "XYZ", "kid": f"{kid}-xyz", "use": "sig"},
        {"kty": "EC", "crv": "P-999", "kid": f"{kid}-p999", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "X448", "kid": f"{kid}-x448", "x": "AA"},
        {"kty": "EC", "crv": "secp256k1", "kid": f"{kid}-k1", "x": "AA", "y": "AA"},
    ]
    return [*junk, valid]


# --- rotation, revocation, failures, flood ------------------------------------------------


def _rotation(ctx: CaseContext) -> Exchange:
    new_key: SigningKey = ctx.jwks_host.rotate(ctx.key.alg)
    try:
        return until_accepted(ctx, lambda: signed(ctx, new_key))
    finally:
        # left published, it is a second key of the default alg for every later case of
        # the process: a token without kid becomes ambiguous (keys.no_kid.single_candidate
        # on a one-key target failed or passed by which cases shared its xdist worker)
        ctx.jwks_host.revoke(new_key.kid)


def _revocation(ctx: CaseContext) -> Exchange:
    key = ctx.keyring.rotation(trusted_any(ctx, "PS512").alg)
    ctx.keyring.publish(key)
    try:
        first = until_accepted(ctx, lambda: signed(ctx, key))
        ctx.check(
            first.accepted, "a newly published key was never accepted; cannot test revocation"
        )
    finally:
        ctx.jwks_host.revoke(key.kid)
    after = ctx.send(signed(ctx, key), label="after revocation")
    ctx.fact("revoked_key_accepted_within_cache_ttl", after.accepted)
    return after


def _fetch_failure(mode: str) -> Recipe:
    def run(ctx: CaseContext) -> Exchange:
        host = ctx.jwks_host
        # Sign in first: signing in reads the same JWKS, so a session asked for during
        # the outage would fail and the case would prove nothing (run alone, or first).
        if "sessions" in ctx.target.capabilities:
            ctx.session()
        key = relabelled(ctx.key, unique_kid(f"outage-{mode}"))
        try:
            with host.failing(jwks_path(ctx), mode):
                ctx.keyring.publish(key)
                decided = after_refetch(ctx, lambda: signed(ctx, key))
        finally:
            host.revoke(key.kid)
        # Leave the target with a good JWKS again (an "empty" JWKS is a valid document a
        # target may cache), so the engine's positive control tests the target, not us.
        restored(ctx)
        return decided

    return run


def flood_allowance(elapsed_s: float, refetch_s: float) -> int:
    """The JWKS fetches a target that refetches at most once per ``refetch_s`` may make
    while tokens with new kids arrive for ``elapsed_s``: one at once, one more per
    interval begun since (a slow machine's sends cross more intervals), at least
    :data:`FLOOD_MAX_FETCHES`."""
    if refetch_s <= 0:
        return FLOOD_KIDS
    return max(FLOOD_MAX_FETCHES, math.floor(elapsed_s / refetch_s) + 2)


def _flood(ctx: CaseContext) -> Exchange:
    host = ctx.jwks_host
    path = jwks_path(ctx)
    before = host.fetch_count(path)
    last = None
    started = time.monotonic()
    for _ in range(FLOOD_KIDS):
        last = ctx.send(signed(ctx, kid=f"random-{secrets.token_hex(8)}"))
        ctx.check(not last.accepted, "a token with a random kid was accepted")
    elapsed = time.monotonic() - started
    fetches = host.fetch_count(path) - before
    allowed = flood_allowance(elapsed, float(ctx.settings.jwks_refetch_s))
    if allowed * 2 > FLOOD_KIDS and fetches <= allowed:
        ctx.skip(
            f"the {FLOOD_KIDS} sends took {elapsed:.2f} s, {allowed - 2} refetch intervals: "
            "too slow here to tell one fetch per kid from one per interval"
        )
    ctx.fact("jwks_fetches_for_random_kid_flood", fetches)
    ctx.fact(
        "jwks_fetches_per_unknown_kid",
        round(fetches / FLOOD_KIDS, 2),
        f"{fetches} JWKS fetches for {FLOOD_KIDS} tokens with random kids sent back to back "
        "(1.0: one fetch each, an amplifier)",
    )
    ctx.check(
        fetches <= allowed,
        f"{FLOOD_KIDS} random kids caused {fetches} JWKS fetches in {elapsed:.2f} s (at most "
        f"{allowed}: one per {ctx.settings.jwks_refetch_s:g} s refetch interval)",
    )
    assert last is not None
    return last


# --- the cases ----------------------------------------------------------------------------


def _selection_cases() -> list[Case]:
    out = [
        token_case(
            "keys.kid.unknown",
            "A kid that is not in the JWKS is refused",
            category=CATEGORY,
            build=lambda ctx: signed(ctx, kid=unique_kid("unknown")),
            # should: signed by the trusted key, so a target that treats an unknown kid as a
            # hint when one key fits the alg (kid_ignored_single_key) hands out nothing
            level=Level.SHOULD,
            severity=Severity.HIGH,
            rationale=(
                "An unknown kid must not fall back to 'any key' or 'no check'; a verifier "
                "that tries every key also widens what a forged kid can reach."
            ),
            references=("RFC 7515 §4.1.4", "OIDF AbstractVerifyJwsSignature"),
            anchors=("F01",),
        ),
        token_case(
            "keys.kid.empty",
            'kid "" is refused',
            category=CATEGORY,
            build=lambda ctx: signed(ctx, kid=""),
            severity=Severity.MEDIUM,
            rationale="An empty kid is how jwt_tool probes key-lookup defaults (blank kid).",
            references=("RFC 7515 §4.1.4", "jwt_tool playbook (blank kid)"),
            anchors=("F05",),
        ),
    ]
    signers = (
        ("attacker", "ES256"),
        ("attacker", "RS256"),
        ("attacker", "EdDSA"),
        ("other", "ES256"),
    )
    out += [
        token_case(
            f"keys.kid.known_signed_by_{role}.{alg.lower()}",
            f"The trusted {alg} kid on a token signed by the {role} {alg} key is refused",
            category=CATEGORY,
            build=_signed_by(role, alg),
            severity=Severity.CRITICAL,
            rationale=(
                "The kid only names a key; the signature must verify with that key. A "
                "verifier that checks 'some' signature lets anyone with a key pair in."
            ),
            references=(
                "RFC 7515 §5.2",
                "OIDF AbstractVerifyJwsSignature",
                "OIDF CIBA SignedByOtherClientFails",
            ),
            anchors=("F02",),
        )
        for role, alg in signers
    ]
    out += [
        token_case(
            "keys.no_kid.single_candidate",
            "A token without kid, when exactly one published key fits its alg (ES384), is accepted",
            category=CATEGORY,
            build=lambda ctx: signed(ctx, trusted_any(ctx, "ES384"), drop=("kid",)),
            expect=Expect.ACCEPT,
            severity=Severity.MEDIUM,
            rationale="kid is optional (RFC 7515); with one candidate the choice is unambiguous.",
            references=("RFC 7515 §4.1.4", "OIDF oidcc-client-test-kid-absent-single-jwks"),
            anchors=("F03",),
        ),
        case(
            "keys.no_kid.several_candidates",
            "A token without kid while two published keys fit its alg (either answer)",
            category=CATEGORY,
            run=_no_kid_ambiguous,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "With several candidates a verifier must refuse or try them all safely; "
                "both are allowed, an error is not."
            ),
            references=("OIDF oidcc-client-test-kid-absent-multiple-jwks",),
            anchors=("F04",),
            needs=JWKS,
        ),
    ]
    return out


_HOSTILE_JWKS: tuple[tuple[str, str, str, Any, Any, Expect, Level, Severity, str], ...] = (
    (
        "duplicate_kid",
        "Two JWKS keys share the new kid; the token is signed by one of them (either answer)",
        "F06",
        _duplicate_kid_entries,
        _sign_as(_any("ES384")),
        Expect.EITHER,
        Level.SHOULD,
        Severity.LOW,
        "A JWKS with duplicate kids is ambiguous; refusing the keyset or disambiguating by "
        "alg and type are both safe.",
    ),
    (
        "use_enc",
        'A key published with use "enc" is not used for a signature',
        "F08",
        _relabel_entry(_any("ES384"), use="enc"),
        _sign_as(_any("ES384")),
        Expect.REJECT,
        Level.SHOULD,  # signed by trusted material: see kid_ignored_single_key
        Severity.MEDIUM,
        "Keys have one purpose; an encryption key must not verify signatures.",
    ),
    (
        "key_ops_encrypt",
        'A key published with key_ops ["encrypt"] is not used for a signature',
        "F08",
        _relabel_entry(_any("ES384"), key_ops=["encrypt"]),
        _sign_as(_any("ES384")),
        Expect.REJECT,
        Level.SHOULD,  # signed by trusted material: see kid_ignored_single_key
        Severity.MEDIUM,
        "key_ops without verify forbids verification with that key.",
    ),
    (
        "rsa_1024",
        "A published 1024-bit RSA key is never used",
        "F09",
        _weak_entries,
        _weak_token,
        Expect.REJECT,
        Level.MUST,
        Severity.HIGH,
        "RSA under 2048 bits is factorable with public effort; RFC 7518 requires 2048.",
    ),
    (
        "rsa_e_1",
        "A published RSA key with e = 1, and a 'signature' that is the encoded message",
        "F10",
        _relabel_entry(_rs, e="AQ"),
        _e_one_token,
        Expect.REJECT,
        Level.MUST,
        Severity.CRITICAL,
        "With e = 1 anyone forges: the signature is the PKCS#1 block in the clear. The key "
        "must be refused when loaded.",
    ),
    (
        "alg_curve_mismatch",
        "A P-384 key published as alg ES256, and an ES256 signature made with it",
        "F11",
        _curve_mismatch_entries,
        _curve_mismatch_token,
        Expect.REJECT,
        Level.MUST,
        Severity.MEDIUM,
        "ES256 means P-256 with SHA-256; a key of another curve must not verify it.",
    ),
    (
        "wrong_kty",
        'An EC key published with kty "RSA"',
        "F11",
        _relabel_entry(_ec, kty="RSA"),
        _sign_as(_ec),
        Expect.REJECT,
        Level.SHOULD,  # signed by trusted material: see kid_ignored_single_key
        Severity.MEDIUM,
        "A JWK whose kty contradicts its members is malformed and must be skipped.",
    ),
    (
        "wrong_curve",
        'A P-256 key published as crv "P-384"',
        "F11",
        _wrong_curve,
        _sign_as(_ec),
        Expect.REJECT,
        Level.SHOULD,  # signed by trusted material: see kid_ignored_single_key
        Severity.MEDIUM,
        "Coordinates of one curve read on another are an invalid key.",
    ),
    (
        "point_off_curve",
        "An EC key whose point is not on its curve",
        "F11",
        _point_off_curve,
        _sign_as(_ec),
        Expect.REJECT,
        Level.SHOULD,  # signed by trusted material: see kid_ignored_single_key
        Severity.HIGH,
        "Invalid-curve points leak private keys in ECDH and confuse ECDSA verifiers; the "
        "point must be validated when the key is loaded.",
    ),
    (
        "symmetric_16_bytes",
        "A 16-byte oct key in the JWKS, and an HS256 token made with it",
        "F12",
        _symmetric_entries(b"0123456789abcdef"),
        _hmac_token(b"0123456789abcdef"),
        Expect.REJECT,
        Level.MUST,
        Severity.CRITICAL,
        "A symmetric key in a public JWKS is known to everyone; it is also shorter than the "
        "hash (RFC 7518 §3.2).",
    ),
    (
        "symmetric_empty",
        "An empty oct key in the JWKS, and an HS256 token with an empty secret",
        "F12",
        _symmetric_entries(b""),
        _hmac_token(b""),
        Expect.REJECT,
        Level.MUST,
        Severity.CRITICAL,
        "An empty HMAC key verifies a MAC anyone computes.",
    ),
    (
        "private_members",
        "A key published with its private member d is not used",
        "F13",
        _private_entries,
        _sign_as(_any("ES384")),
        Expect.REJECT,
        Level.SHOULD,
        Severity.MEDIUM,
        "A JWKS carrying private keys is a configuration error: that key is compromised.",
    ),
)


def _hostile_jwks_cases() -> list[Case]:
    out = [
        case(
            f"keys.jwks.{name}",
            title,
            category=CATEGORY,
            run=_with_entries(entries, token),
            expect=expect,
            level=level,
            severity=severity,
            rationale=why,
            references=("Wycheproof json_web_key_test", "RFC 7517 §4", "RFC 7518 §3"),
            anchors=(row,),
            needs=JWKS,
        )
        for name, title, row, entries, token, expect, level, severity, why in _HOSTILE_JWKS
    ]
    out += [
        case(
            "keys.jwks.decoys_same_kid",
            "Decoy EC, OKP and PS256 keys share the kid of the RS256 signer: the token is accepted",
            category=CATEGORY,
            run=_with_entries(_decoy_entries, _sign_as(_any("RS256")), accept=True),
            expect=Expect.ACCEPT,
            severity=Severity.MEDIUM,
            rationale=(
                "Keys are selected by kid, alg and type together; stopping at the first kid "
                "match breaks real JWKS with decoys."
            ),
            references=("RFC 7517 §4.5", "OIDF AugmentRealJwksWithDecoys"),
            anchors=("F07",),
            needs=JWKS,
        ),
        case(
            "keys.jwks.unknown_key_types",
            "Unknown kty and curves next to a new valid key: the valid key still works",
            category=CATEGORY,
            run=_with_entries(_unknown_kinds, _sign_as(_any("ES384")), accept=True),
            expect=Expect.ACCEPT,
            severity=Severity.MEDIUM,
            rationale=(
                "RFC 7517 §5 says to ignore keys one does not understand; refusing the whole "
                "set breaks key rollovers to new types."
            ),
            references=("RFC 7517 §5",),
            anchors=("F14",),
            needs=JWKS,
        ),
    ]
    return out


def _lifecycle_cases() -> list[Case]:
    out = [
        case(
            "keys.rotation.new_kid",
            "After a new key (of the trusted key's alg) is published, tokens signed with it are "
            "accepted",
            category=CATEGORY,
            run=_rotation,
            expect=Expect.ACCEPT,
            severity=Severity.MEDIUM,
            rationale=(
                "Issuers rotate keys; a verifier must refetch the JWKS on an unknown kid, "
                "or every rotation is an outage."
            ),
            references=("RFC 7517 §4.5", "OIDF oidcc-client-test-signing-key-rotation"),
            anchors=("F15",),
            needs=JWKS,
        ),
        case(
            "keys.revocation.removed_key",
            "A key removed from the JWKS (either answer; the outcome is recorded)",
            category=CATEGORY,
            run=_revocation,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "A removed key stays trusted until the cache expires; how long is a fact the "
                "issuer needs to know for incident response."
            ),
            references=("RFC 7517 §4.5", "OIDF oidcc-client-test-signing-key-rotation"),
            anchors=("F16",),
            needs=JWKS,
        ),
    ]
    out += [
        case(
            f"keys.jwks_fetch_failure.{mode}",
            f"While the JWKS fetch fails ({mode}), a token for a newly published key is "
            "refused with a 4xx",
            category=CATEGORY,
            run=_fetch_failure(mode),
            severity=Severity.MEDIUM,
            rationale=(
                "A JWKS outage must fail closed and fast: no 5xx, no hang, and no fallback "
                "that skips verification."
            ),
            references=("RFC 7517 §5", "OIDF AbstractValidateJWKs"),
            anchors=("F17",),
            needs=JWKS,
        )
        for mode in FAILURE_MODES
    ]
    out.append(
        case(
            "keys.random_kid_flood",
            f"{FLOOD_KIDS} tokens with random kids cause at most {FLOOD_MAX_FETCHES} JWKS fetches",
            category=CATEGORY,
            run=_flood,
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "Each unknown kid may trigger a refetch; without a rate limit an attacker "
                "turns the endpoint into an amplifier against the issuer's JWKS host."
            ),
            references=("RFC 8725bis §3.10",),
            anchors=("F18",),
            needs=JWKS,
        )
    )
    return out


CASES: tuple[Case, ...] = (*_selection_cases(), *_hostile_jwks_cases(), *_lifecycle_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
