"""Validate an assertion (or a sign-in JWT) exactly as ``docs/reference-policy.md`` says.

Three stages, each raising :class:`Rejected` with a short client-safe text:

1. :func:`decode_compact` — the compact JWS: three canonical base64url segments, strict
   UTF-8 JSON objects without duplicate names, within the size limit.
2. :meth:`Validator.check_signature` — header rules, key selection from the environment's
   JWKS by ``kid`` (or the sole matching key), and the signature, checked with PyJWT's
   algorithm implementations (on ``cryptography``).
3. :meth:`Validator.assertion_claims` / :meth:`Validator.signin_claims` — claim types,
   times, issuer, audience, scopes.

Flaws (``flaws.py``) switch individual rules off or break them; each place is marked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import get_default_algorithms

from ._b64 import b64url_decode, b64url_encode
from ._token_urls import token_urls
from .config import EmulatorConfig, Environment
from .jwks_cache import JwksCache, JwksUnavailable, PublishedKey, parse_jwk

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_GOOD_TYP = ("jwt", "application/jwt")
_CURVE_FOR = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_MAX_JTI = 256
HUGE_LEEWAY_S = 86400.0


class Rejected(Exception):
    """A refusal: ``message`` is safe to show; ``leak`` is what ``leaky_errors`` adds."""

    def __init__(self, message: str, *, status: int = 401, leak: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.leak = leak


class KeysUnavailable(Rejected):
    """A refusal because the JWKS could not be had (``jwks_fail_open`` accepts instead)."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """A structurally valid compact JWS, not yet verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    signature_text: str = field(repr=False)
    #: set only by the ``json_serialization_accepted`` flaw, which verified it already
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid assertion asks for."""

    subject: str
    scopes: tuple[str, ...]  # de-duplicated, in request order
    jti: str | None
    keep_until: float  # how long the jti must be remembered


# -- stage 1: structure ----------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member name")
        result[name] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: Header member names registered by RFC 7515 §4.1 (the ``unknown_header`` = "refuse"
#: variant refuses any other).
REGISTERED_HEADER = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)

#: The claims a verify-call assertion may carry under ``unknown_claims`` = "refuse": RFC
#: 7519 §4.1's registered names and Dynamic's ``scope``.
ASSERTION_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope"})


@dataclass(frozen=True, slots=True)
class Parsing:
    """How lenient the structural stage is (the policy variants; strict by default)."""

    lenient_base64url: bool = False
    lenient_json: bool = False
    last_wins: bool = False

    @classmethod
    def of(cls, config: EmulatorConfig) -> Parsing:
        return cls(
            lenient_base64url=config.lenient_base64url,
            lenient_json=config.lenient_json,
            last_wins=config.duplicate_members == "last",
        )


STRICT = Parsing()


def _segment_bytes(segment: str, what: str, parsing: Parsing) -> bytes:
    # lenient: whitespace and '=' padding are dropped; the alphabet and the canonical
    # form are still required.
    text = "".join(segment.split()).rstrip("=") if parsing.lenient_base64url else segment
    if not _SEGMENT.fullmatch(text):
        raise Rejected("malformed assertion: invalid characters", status=400)
    try:
        raw = b64url_decode(text)
    except (binascii.Error, ValueError):
        raise Rejected(f"malformed assertion: {what} is not base64url", status=400) from None
    if b64url_encode(raw) != text:
        raise Rejected(f"malformed assertion: {what} is not canonical base64url", status=400)
    return raw


def _json_object(
    segment: str, what: str, parsing: Parsing = STRICT
) -> tuple[dict[str, Any], bytes]:
    raw = _segment_bytes(segment, what, parsing)
    try:
        if parsing.lenient_json:
            # Python's defaults: UTF-8/16/32 detection, NaN/Infinity, duplicates last-wins.
            value = json.loads(raw)
        else:
            value = json.loads(
                raw.decode("utf-8"),
                object_pairs_hook=None if parsing.last_wins else _no_duplicates,
                parse_constant=_no_constant,
            )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Rejected(
            f"malformed assertion: {what} is not a JSON object", status=400, leak=repr(exc)
        ) from None
    if not isinstance(value, dict):
        raise Rejected(f"malformed assertion: {what} is not a JSON object", status=400)
    return value, raw


def decode_compact(token: str, *, max_bytes: int, parsing: Parsing = STRICT) -> Decoded:
    """Split and decode ``token``; raises :class:`Rejected` (400) for any structural fault.

    ``parsing`` loosens the structure the way a lenient (still correct) server does; the
    signature is always checked over the segments as sent.
    """
    if len(token) > max_bytes or len(token.encode("utf-8", "surrogatepass")) > max_bytes:
        raise Rejected("assertion too large", status=400)
    if parsing.lenient_base64url:
        token = token.strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise Rejected("malformed assertion: expected three segments", status=400)
    if not parsing.lenient_base64url:
        for part in parts:
            if not _SEGMENT.fullmatch(part):
                raise Rejected("malformed assertion: invalid characters", status=400)
    if not parts[0] or not parts[1]:
        raise Rejected("malformed assertion: empty segment", status=400)
    header, _ = _json_object(parts[0], "header", parsing)
    claims, _ = _json_object(parts[1], "payload", parsing)
    signature = _segment_bytes(parts[2], "signature", parsing)
    try:
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    except UnicodeEncodeError:
        raise Rejected("malformed assertion: invalid characters", status=400) from None
    return Decoded(header, claims, signing_input, signature, parts[2])


def decode_compact_fragile(token: Any) -> Decoded:
    """The ``server_error_on_malformed`` flaw: naive decoding whose errors escape unhandled."""
    head, body, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "==").decode("utf-8"))
    claims = json.loads(base64.urlsafe_b64decode(body + "==").decode("utf-8"))
    header.get("alg")  # AttributeError for a non-object, as careless code would hit
    claims.get("sub")
    signature = base64.urlsafe_b64decode(sig + "==")
    return Decoded(header, claims, f"{head}.{body}".encode(), signature, sig)


# -- helpers ---------------------------------------------------------------------------


def _number(value: Any, name: str) -> float:
    """A finite JSON number as float; bools, strings, NaN, infinities and overflow refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(f"invalid assertion: {name} must be a number", status=400)
    try:
        result = float(value)
    except OverflowError:
        raise Rejected(f"invalid assertion: {name} out of range", status=400) from None
    if not math.isfinite(result):
        raise Rejected(f"invalid assertion: {name} must be finite", status=400)
    return result


def _nonempty_str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise Rejected(f"invalid assertion: {name} must be a non-empty string", status=400)
    return value


_HMAC_HASH = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _stored_spellings(key: PublishedKey) -> list[bytes]:
    """The ``hmac_key_spellings`` flaw: the forms a key store may hold a public key in."""
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    public = key.key
    pem = public.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
    jwk = dict(key.jwk)
    out = [
        pem,
        pem.replace(b"\n", b"\r\n"),
        b"  " + pem,
        b"\xef\xbb\xbf" + pem,
        public.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo),
        json.dumps(jwk, separators=(",", ":")).encode("utf-8"),
        json.dumps(jwk, indent=2).encode("utf-8"),
    ]
    if key.kty in ("RSA", "EC"):
        out.append(public.public_bytes(enc.OpenSSH, fmt.OpenSSH))
    if key.kty == "RSA":
        pkcs1 = public.public_bytes(enc.PEM, fmt.PKCS1)
        out += [pkcs1, pkcs1.rstrip(b"\n"), public.public_bytes(enc.DER, fmt.PKCS1)]
    return out


#: the group orders of P-256, P-384 and P-521 (for the ``ecdsa_range_unchecked`` flaw; the
#: emulator shares no code with the forge, whose CURVE_ORDERS hold the same numbers)
_ORDER = {
    "ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "ES384": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77A"
        "ECEC196ACCC52973",
        16,
    ),
    "ES512": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_ECDSA_HASH = {"ES256": "SHA256", "ES384": "SHA384", "ES512": "SHA512"}


def ecdsa_without_range_check(public: Any, alg: str, decoded: Decoded) -> bool:
    """The ``ecdsa_range_unchecked`` flaw: the raw signature is split in two halves of any
    length, r and s are reduced modulo n, and s = 0 is inverted to 0 as Java 15-18 did
    (CVE-2022-21449), so u1 = u2 = 0, the point at infinity (x = 0) matches r = 0."""
    signature, n = decoded.signature, _ORDER[alg]
    if not signature or len(signature) % 2:
        return False
    half = len(signature) // 2
    r = int.from_bytes(signature[:half], "big") % n
    s = int.from_bytes(signature[half:], "big") % n
    if s == 0:
        return r == 0
    if r == 0:
        return False
    digest = getattr(hashes, _ECDSA_HASH[alg])()
    try:
        public.verify(encode_dss_signature(r, s), decoded.signing_input, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def normalised_alg(value: Any) -> Any:
    """The ``alg_name_normalised`` flaw: the header alg as a forgiving parser reads it
    (an array's first item, NFKC, zero-width characters and what follows a NUL dropped,
    trimmed, matched case-insensitively against the registered names)."""
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFKC", value).translate(_ZERO_WIDTH)
    text = text.split("\x00", 1)[0].strip()
    names = {name.upper(): name for name in get_default_algorithms()}
    return names.get(text.upper(), text)


def key_matches(key: PublishedKey, alg: str, *, strict: bool = True) -> bool:
    """Whether ``key`` may verify ``alg`` (type, curve, and the JWK's own ``alg``).

    ``strict=False`` is the ``alg_not_matched`` flaw: only the key type is compared.
    """
    if alg[:2] in ("RS", "PS"):
        family_ok = key.kty == "RSA"
    elif alg in _CURVE_FOR:
        family_ok = key.kty == "EC" and (not strict or key.crv == _CURVE_FOR[alg])
    elif alg == "EdDSA":
        family_ok = key.kty == "OKP" and key.crv == "Ed25519"
    else:
        family_ok = False
    if not strict:
        return family_ok
    return family_ok and (key.alg is None or key.alg == alg)


def _key_hint(key: PublishedKey) -> str:
    material = key.jwk.get("n") or key.jwk.get("x") or ""
    return f"kid={key.kid} kty={key.kty} {str(material)[:24]}"


# -- stages 2 and 3 --------------------------------------------------------------------


class Validator:
    """Header, key, signature and claim rules for one emulator configuration."""

    def __init__(self, config: EmulatorConfig, jwks: JwksCache) -> None:
        self.config = config
        self.jwks = jwks
        self.leeway = HUGE_LEEWAY_S if config.has("huge_leeway") else float(config.leeway_s)

    def keys_environment(self, env: Environment, claims: dict[str, Any]) -> Environment:
        """The environment whose JWKS verifies the token (the path's, unless flawed)."""
        if self.config.has("iss_not_checked"):
            # The multi-tenant confusion: the tenant is looked up by the token's claim.
            for other in self.config.environments:
                if other.issuer == claims.get("iss"):
                    return other
        return env

    def check_signature(self, decoded: Decoded, env: Environment) -> None:
        """Apply the header rules, select the key and verify the signature."""
        header, has = decoded.header, self.config.has
        if decoded.verified:
            return
        alg = header.get("alg")
        if has("alg_name_normalised"):
            alg = normalised_alg(alg)
        if not isinstance(alg, str):
            raise Rejected("unsupported alg", status=400)
        if has("alg_none_accepted") and alg.lower() == "none":
            return
        kid = header.get("kid")
        # A present kid must be usable: null is not "absent".
        if "kid" in header and (not isinstance(kid, str) or not kid):
            raise Rejected("invalid kid", status=400)
        source = self.keys_environment(env, decoded.claims)
        if has("hmac_key_confusion") and alg == "HS256":
            self._check_hmac_confusion(decoded, source, kid)
            return
        if has("hmac_key_spellings") and alg in _HMAC_HASH:
            self._check_hmac_spellings(decoded, source, kid, alg)
            return
        if alg not in self.config.allowed_algs:
            raise Rejected("unsupported alg")
        if "crit" in header and not has("crit_ignored"):
            raise Rejected("unsupported critical header")
        for name in ("b64", "zip", "cty"):
            if name in header:
                raise Rejected(f"unsupported header parameter {name}")
        if self.config.unknown_header == "refuse" and set(header) - REGISTERED_HEADER:
            raise Rejected("unsupported header parameter")
        typ = header.get("typ")
        if (
            self.config.check_typ
            and "typ" in header
            and (not isinstance(typ, str) or typ.lower() not in _GOOD_TYP)
        ):
            raise Rejected("unsupported typ")
        if has("token_urls_fetched"):
            # the configured issuer and audience are names, not places it looks up
            for url in set(token_urls(header, decoded.claims)) - {env.issuer, env.audience}:
                self.jwks.touch(url)
        try:
            key = self._select_key(header, alg, kid, source)
        except KeysUnavailable:
            if has("jwks_fail_open"):
                return  # the flaw: no keys to check with, so nothing is checked
            raise
        if has("signature_not_checked"):
            return
        algorithm = get_default_algorithms()[alg]
        try:
            if has("ecdsa_range_unchecked") and alg in _ORDER:
                ok = ecdsa_without_range_check(key.key, alg, decoded)
            else:
                ok = algorithm.verify(
                    decoded.signing_input, algorithm.prepare_key(key.key), decoded.signature
                )
        except Exception:
            # A wrong-size or hostile signature must be a refusal, whatever it raises.
            ok = False
        if not ok:
            raise Rejected(
                "invalid signature",
                leak=f"Invalid signature. Expected a signature by {_key_hint(key)}, "
                f"got {decoded.signature_text}",
            )

    def _candidates(
        self, header: dict[str, Any], kid: str | None, source: Environment
    ) -> tuple[PublishedKey, ...]:
        has = self.config.has
        try:
            if has("embedded_jwk_trusted") and isinstance(header.get("jwk"), dict):
                embedded = parse_jwk(header["jwk"])
                return () if embedded is None else (embedded,)
            if has("jku_trusted") and isinstance(header.get("jku"), str):
                return self.jwks.keys(header["jku"], kid=kid)
            # jku, x5u, x5c and jwk are otherwise ignored: keys come from the config only.
            return self.jwks.keys(source.jwks_url, kid=kid)
        except JwksUnavailable as exc:
            raise KeysUnavailable("signing keys unavailable", leak=str(exc)) from None

    def _select_key(
        self, header: dict[str, Any], alg: str, kid: str | None, source: Environment
    ) -> PublishedKey:
        strict = not self.config.has("alg_not_matched")
        candidates = self._candidates(header, kid, source)
        if (
            self.config.kid_ignored_single_key
            and not self._foreign_keys(header)
            and kid not in self.jwks.named(source.jwks_url)
        ):
            # The variant: a kid the JWKS does not name is only a hint when exactly one
            # published key fits the alg (a kid it names still selects that entry).
            fitting = [key for key in candidates if key_matches(key, alg, strict=strict)]
            if len(fitting) == 1:
                return fitting[0]
        if kid is not None and not (
            self.config.has("embedded_jwk_trusted") and isinstance(header.get("jwk"), dict)
        ):
            named = [key for key in candidates if key.kid == kid]
            if not named:
                raise Rejected("unknown key")
            usable = [key for key in named if key_matches(key, alg, strict=strict)]
            if not usable:
                raise Rejected("alg does not match the key")
            return usable[0]
        usable = [key for key in candidates if key_matches(key, alg, strict=strict)]
        if len(usable) != 1:
            raise Rejected("no single key matches the alg; send a kid")
        return usable[0]

    def _foreign_keys(self, header: dict[str, Any]) -> bool:
        """Whether a flaw makes the keys come from the token itself (jwk, jku)."""
        has = self.config.has
        return (has("embedded_jwk_trusted") and isinstance(header.get("jwk"), dict)) or (
            has("jku_trusted") and isinstance(header.get("jku"), str)
        )

    def _check_hmac_confusion(self, decoded: Decoded, source: Environment, kid: str | None) -> None:
        try:
            keys = self.jwks.keys(source.jwks_url, kid=kid)
        except JwksUnavailable:
            raise Rejected("signing keys unavailable") from None
        for key in keys:
            if kid is not None and key.kid != kid:
                continue
            pem = key.key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            expected = hmac.new(pem, decoded.signing_input, hashlib.sha256).digest()
            if hmac.compare_digest(expected, decoded.signature):
                return
        raise Rejected("invalid signature")

    def json_serialization(self, token: str, env: Environment) -> Decoded:
        """The ``json_serialization_accepted`` flaw: a JWS JSON serialisation (RFC 7515
        §7.2) is taken; each entry's header is the protected one updated by the unprotected
        one, an entry whose alg is none and whose signature is empty counts as verified,
        and the general form passes when no entry failed (an empty list included)."""
        try:
            document = json.loads(token)
            body = document["payload"]
            claims = json.loads(b64url_decode(body))
            entries = document.get("signatures", [document])
            checked = []
            for entry in entries:
                protected = entry.get("protected", "")
                header = json.loads(b64url_decode(protected)) if protected else {}
                header.update(entry.get("header") or {})
                signature = b64url_decode(entry.get("signature", ""))
                checked.append((protected, header, signature, entry.get("signature", "")))
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise Rejected("malformed assertion", status=400) from None
        if not isinstance(claims, dict):
            raise Rejected("malformed assertion: payload is not a JSON object", status=400)
        for protected, header, signature, text in checked:
            if header.get("alg") == "none" and not signature:
                continue  # the CVE-2026-96760 path: an unsigned entry "verifies"
            entry = Decoded(header, claims, f"{protected}.{body}".encode(), signature, text)
            self.check_signature(entry, env)
        first = checked[0][1] if checked else {}
        return Decoded(first, claims, b"", b"", "", verified=True)

    def _check_hmac_spellings(
        self, decoded: Decoded, source: Environment, kid: str | None, alg: str
    ) -> None:
        try:
            keys = self.jwks.keys(source.jwks_url, kid=kid)
        except JwksUnavailable:
            raise Rejected("signing keys unavailable") from None
        digest = _HMAC_HASH[alg]
        for key in keys:
            if kid is not None and key.kid != kid:
                continue
            for secret in _stored_spellings(key):
                if secret.startswith(b"-----BEGIN PUBLIC KEY-----\n"):
                    continue  # the guard: the canonical PEM is refused as an HMAC secret
                expected = hmac.new(secret, decoded.signing_input, digest).digest()
                if hmac.compare_digest(expected, decoded.signature):
                    return
        raise Rejected("invalid signature")

    # -- claims --------------------------------------------------------------------------

    def _times(self, claims: dict[str, Any], *, now: float, lifetime: bool) -> float | None:
        """Check exp/nbf/iat; returns exp (``None`` only when the exp check is flawed off)."""
        has, leeway = self.config.has, self.leeway
        exp: float | None = None
        if not has("exp_not_checked"):
            if "exp" not in claims:
                raise Rejected("invalid assertion: exp is required", status=400)
            exp = _number(claims["exp"], "exp")
            if exp <= now - leeway:
                raise Rejected("assertion expired")
        elif "exp" in claims:
            try:
                exp = _number(claims["exp"], "exp")
            except Rejected:
                exp = None
        nbf = self._optional_time(claims, "nbf")
        iat = self._optional_time(claims, "iat")
        if nbf is not None and not has("nbf_ignored"):
            if nbf > now + leeway:
                raise Rejected("assertion not yet valid")
            if exp is not None and nbf >= exp:
                raise Rejected("invalid assertion: nbf is not before exp")
        if iat is not None and iat > now + leeway:
            raise Rejected("assertion issued in the future")
        if lifetime and exp is not None and not has("no_max_lifetime"):
            limit = float(self.config.max_assertion_lifetime_s) + leeway
            # the lifetime_needs_iat flaw measures exp - iat only (nothing without iat)
            ahead = exp - now > limit and not has("lifetime_needs_iat")
            if ahead or (iat is not None and exp - iat > limit):
                raise Rejected("assertion lifetime too long")
        return exp

    def _optional_time(self, claims: dict[str, Any], name: str) -> float | None:
        """An optional NumericDate claim (``None`` when absent)."""
        if name not in claims:
            return None
        value = claims[name]
        if self.config.has("time_claims_type_skipped") and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            return None  # the flaw: "if isinstance(nbf, int): check it"
        return _number(value, name)

    def _issuer_and_audience(self, claims: dict[str, Any], env: Environment) -> None:
        if not self.config.has("iss_not_checked"):
            iss = claims.get("iss")
            if "iss" not in claims and not self.config.require_iss:
                pass  # the iss_optional variant: the environment's key names the issuer
            elif not isinstance(iss, str):
                raise Rejected("invalid assertion: iss is required", status=400)
            elif self.config.has("iss_substring_match"):
                if iss not in env.issuer:  # the flaw: a substring of the issuer passes
                    raise Rejected("wrong issuer")
            elif iss != env.issuer:
                raise Rejected("wrong issuer")
        if env.audience is not None:
            aud = claims.get("aud")
            if isinstance(aud, str):
                ok = aud == env.audience
            elif isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
                ok = env.audience in aud
            else:
                raise Rejected("invalid assertion: aud is required", status=400)
            if not ok:
                raise Rejected("wrong audience")

    def _scopes(self, claims: dict[str, Any]) -> tuple[str, ...]:
        scope = _nonempty_str(claims, "scope")
        items = scope.split(" ")
        if any(not item for item in items):
            raise Rejected("invalid assertion: malformed scope", status=400)
        if not self.config.has("unknown_scopes_accepted"):
            unknown = [item for item in items if item not in self.config.known_scopes]
            if unknown:
                raise Rejected("unknown scope", status=403)
        return tuple(dict.fromkeys(items))

    def jti_of(self, claims: dict[str, Any]) -> str | None:
        """The assertion's jti (``None`` only when the jti check is flawed off)."""
        if self.config.has("jti_not_checked"):
            return None
        jti = _nonempty_str(claims, "jti")
        if len(jti) > _MAX_JTI:
            raise Rejected("invalid assertion: jti too long", status=400)
        return jti

    def assertion_claims(self, decoded: Decoded, env: Environment, *, now: float) -> Grant:
        """Check every claim rule of a verify-call assertion (not sub against the session)."""
        claims = decoded.claims
        if self.config.unknown_claims == "refuse" and set(claims) - ASSERTION_CLAIMS:
            raise Rejected("unsupported claim")
        subject = _nonempty_str(claims, "sub")
        scopes = self._scopes(claims)
        jti = self.jti_of(claims)
        exp = self._times(claims, now=now, lifetime=True)
        self._issuer_and_audience(claims, env)
        keep_until = (
            exp + self.leeway
            if exp is not None
            else now + float(self.config.max_assertion_lifetime_s) + self.leeway
        )
        return Grant(subject=subject, scopes=scopes, jti=jti, keep_until=keep_until)

    def signin_claims(self, decoded: Decoded, env: Environment, *, now: float) -> str:
        """Check a sign-in JWT's claims (the lifetime bound too); returns its subject."""
        subject = _nonempty_str(decoded.claims, "sub")
        self._times(decoded.claims, now=now, lifetime=True)
        self._issuer_and_audience(decoded.claims, env)
        return subject
