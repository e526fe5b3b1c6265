"""Cases of the ``header`` category: JOSE header members (threat-catalog rows G01-G22).

Keys the token brings itself (``jwk``, ``jku``, ``x5u``, ``x5c``), ``kid`` injection
payloads, ``crit``, ``typ``, ``cty`` (nested JWTs), ``zip`` and ``b64``, unknown and
duplicate members, and a thumbprint that does not match. URL-bearing members also check
that the target fetched nothing from the suite's attacker paths.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._keyring import private_jwk
from ..forge import (
    CRIT_VARIANTS,
    KID_INJECTIONS,
    TYP_ACCEPTED,
    TYP_REJECTED,
    b64url_encode,
    compact,
    deflate,
    encode_json,
    json_with_duplicates,
    nested,
    standard_header,
)
from .authoring import (
    Build,
    Case,
    CaseContext,
    Expect,
    Level,
    Planted,
    Severity,
    case,
    claims_with,
    not_fetched,
    planted,
    signed,
    token_case,
    trusted_any,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["ATTACKER_PREFIX", "CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "header"
ATTACKER_PREFIX = "/attacker"
#: The out-of-band cases need a listener the target can reach.
OOB = ("attacker_host",)
_BCP_INDIRECT = "RFC 8725bis §3.10"


def _attacker_signed(alg: str = "ES256", *, kid: str = "attacker", **extra: Any) -> Build:
    """Signed by the attacker ``alg`` key; ``kid`` is "attacker", "trusted" or "none";
    ``extra`` header members may be callables of ``ctx``."""

    def build(ctx: CaseContext) -> str:
        attacker = ctx.keyring.attacker(alg)
        members = {k: v(ctx) if callable(v) else v for k, v in extra.items()}
        if kid == "trusted":
            # the trusted kid of the same alg when the target has one, else its own key's
            members["kid"] = trusted_any(ctx, alg).kid
        drop = ("kid",) if kid == "none" else ()
        return signed(ctx, attacker, drop=drop, **members)

    return build


#: A URL-valued header member: (the case's planted path, ctx) -> the member's value.
PlantedValue = Callable[[CaseContext, Planted], Any]


def _no_attacker_fetch(
    kid: str = "attacker", alg: str = "ES256", **members: PlantedValue
) -> Callable[[CaseContext], Exchange]:
    """Send a token signed by the attacker whose header ``members`` point under a path
    unique to this case on the listener; fail if the target requested anything there."""

    def run(ctx: CaseContext) -> Exchange:
        where = planted(ctx, ATTACKER_PREFIX)
        values = {name: value(ctx, where) for name, value in members.items()}
        exchange = ctx.send(_attacker_signed(alg, kid=kid, **values)(ctx))
        not_fetched(ctx, where)
        return exchange

    return run


def _kid_url(make: Callable[[Planted], str]) -> Callable[[CaseContext], Exchange]:
    """Send a token signed by the trusted key whose kid is ``make(planted path)``."""

    def run(ctx: CaseContext) -> Exchange:
        where = planted(ctx, ATTACKER_PREFIX)
        exchange = ctx.send(signed(ctx, kid=make(where)))
        not_fetched(ctx, where)
        return exchange

    return run


def _public_jwk(ctx: CaseContext, alg: str = "ES256") -> dict[str, Any]:
    return dict(ctx.keyring.attacker(alg).public_jwk)


def _private_jwk(ctx: CaseContext) -> dict[str, Any]:
    return private_jwk(ctx.keyring.attacker("ES256"))


def _symmetric_jwk(ctx: CaseContext) -> str:
    secret = b"attacker-chosen-secret-32-bytes!"
    header = {"alg": "HS256", "typ": "JWT", "jwk": {"kty": "oct", "k": b64url_encode(secret)}}
    return compact(header, claims_with(ctx), key=secret)


def _x5c(alg: str) -> Callable[[CaseContext], list[str]]:
    def chain(ctx: CaseContext) -> list[str]:
        der = ctx.keyring.certificate(ctx.keyring.attacker(alg))
        return [base64.b64encode(der).decode("ascii")]

    return chain


def _jku_variant(shape: str) -> PlantedValue:
    """A jku that looks like a trusted JWKS URL but lands on the case's attacker path."""

    def url(ctx: CaseContext, where: Planted) -> str:
        base = urlsplit(where.base)
        trusted = (
            urlsplit(ctx.jwks_host.jwks_url).netloc
            if "jwks_host" in ctx.settings.capabilities
            else "trusted.conformance.test"
        )
        if shape == "userinfo":
            return f"{base.scheme}://{trusted}@{base.netloc}{base.path}{where.path}/jwks.json"
        if shape == "dot_segments":
            return f"{where.url('/trusted/jwks.json')}/../../jwks.json"
        return f"{where.url('/trusted.json')}?next={where.jwks_url}"

    return url


def _attacker_jwks(ctx: CaseContext, where: Planted) -> str:
    return where.jwks_url


def _attacker_cert(ctx: CaseContext, where: Planted) -> str:
    return where.cert_url


# --- kid injections -----------------------------------------------------------------------

_KID_ROWS = {
    "path_traversal_dev_null": "G07",
    "dev_null": "G08",
    "invalid_path": "G08",
    "proc_randomize_va_space": "G08",
    "sql_union": "G09",
    "command_sleep": "G10",
    "ldap_filter": "G11",
    "nosql_object": "G11",
}
_KID_WHY = {
    "G07": "A kid used as a file path makes /dev/null (empty content) the HMAC key: a MAC "
    "with an empty secret then verifies.",
    "G08": "Readable files with predictable content (/proc/sys/kernel/randomize_va_space is "
    '"2") become known HMAC keys when kid is a path.',
    "G09": "A kid spliced into SQL lets the attacker choose the key the query returns.",
    "G10": "A kid passed to a shell runs commands on the server.",
    "G11": "A kid used as a URL, LDAP filter or NoSQL query reaches back-ends the attacker "
    "should not control.",
    "G12": "Non-string, huge or control-character kids crash naive code (a 5xx) or poison "
    "logs and caches.",
}
_KID_REFS = {
    "G07": (
        _BCP_INDIRECT,
        "PortSwigger lab: kid header path traversal",
        "jwt_tool playbook",
        "PATT",
    ),
    "G08": (_BCP_INDIRECT, "jwt_tool playbook", "PATT"),
    "G09": ("jwt_tool playbook", "PATT", _BCP_INDIRECT),
    "G10": (_BCP_INDIRECT, "jwt_tool playbook"),
    "G11": ("PATT", _BCP_INDIRECT, "jwt-hack kid_injection"),
    "G12": ("RFC 7515 §4.1.4", "jwt_tool -M er"),
}


def _kid_injection(kid: Any, secret: bytes | None) -> Build:
    def build(ctx: CaseContext) -> str:
        if secret is None:
            return signed(ctx, kid=kid)
        return compact({"alg": "HS256", "typ": "JWT", "kid": kid}, claims_with(ctx), key=secret)

    return build


def _kid_cases() -> list[Case]:
    out = []
    for item in KID_INJECTIONS:
        row = _KID_ROWS.get(item.name, "G12")
        how = (
            f"HS256 with the secret {item.secret!r}"
            if item.secret is not None
            else "signed by the trusted key"
        )
        # kid null too: the policy wants a non-empty string (G12), and a parser that reads
        # null as "no kid" differs from the one that selected the key.
        out.append(
            token_case(
                f"header.kid.{item.name}",
                f"kid {item.name.replace('_', ' ')} ({how}) is refused",
                category=CATEGORY,
                build=_kid_injection(item.kid, item.secret),
                expect=Expect.REJECT,
                # must only when the attacker chose the key (an HMAC secret the kid
                # points at); any kid next to a valid signature by the trusted key gains
                # no token: a target may take the kid as a hint when one published key
                # fits the alg (kid_ignored_single_key), so refusing it is hardening
                # (docs/levels.md; keys.kid.unknown is a should for the same reason)
                level=Level.MUST if item.secret is not None else Level.SHOULD,
                severity=Severity.CRITICAL if item.secret is not None else Severity.HIGH,
                rationale=_KID_WHY[row],
                references=_KID_REFS[row],
                anchors=(row,),
            )
        )
    out += [
        case(
            "header.kid.attacker_url",
            "kid set to the attacker's JWKS URL is refused and never fetched",
            category=CATEGORY,
            run=_kid_url(lambda where: where.jwks_url),
            # the fetch is what an attacker gains (a must failure); the answer is either:
            # the token is signed by the trusted key, the kid only a hint to a target
            # that has one key for the alg (kid_ignored_single_key)
            expect=Expect.EITHER,
            correct="never fetches the URL; refusing the token is hardening",
            severity=Severity.HIGH,
            rationale=_KID_WHY["G11"],
            references=_KID_REFS["G11"],
            anchors=("G11",),
            needs=OOB,
        ),
        case(
            "header.kid.command_curl",
            "kid '| curl <attacker URL>' is refused and causes no request",
            category=CATEGORY,
            run=_kid_url(lambda where: f"| curl {where.jwks_url}"),
            expect=Expect.EITHER,  # the request is the attacker's gain (see attacker_url)
            correct="causes no request; refusing the token is hardening",
            severity=Severity.HIGH,
            rationale=_KID_WHY["G10"],
            references=_KID_REFS["G10"],
            anchors=("G10",),
            needs=OOB,
        ),
    ]
    return out


# --- embedded keys and key URLs -----------------------------------------------------------


def _key_carrying_cases() -> list[Case]:
    embedded = (
        ("es256_attacker_kid", "ES256", "attacker"),
        ("es256_trusted_kid", "ES256", "trusted"),
        ("es256_no_kid", "ES256", "none"),
        ("rs256_attacker_kid", "RS256", "attacker"),
    )
    why_embedded = (
        "A key carried in the token proves nothing: the attacker signs with the matching "
        "private key. Trusting it is CVE-2018-0114."
    )
    out = [
        token_case(
            f"header.jwk.{name}",
            f"An embedded jwk of the attacker's {alg} key ({kid} kid), signed with it, is refused",
            category=CATEGORY,
            build=_attacker_signed(alg, kid=kid, jwk=lambda ctx, alg=alg: _public_jwk(ctx, alg)),
            severity=Severity.CRITICAL,
            rationale=why_embedded,
            references=(
                "RFC 8725bis §3.10",
                "CVE-2018-0114",
                "jwt_tool -X i",
                "PortSwigger lab: jwk header injection",
                "Wycheproof rejectsAttackerProvidedEmbeddedJwk",
            ),
            anchors=("G01",),
        )
        for name, alg, kid in embedded
    ]
    out += [
        token_case(
            "header.jwk.private_key",
            "An embedded jwk carrying the attacker's private key d is refused",
            category=CATEGORY,
            build=_attacker_signed(jwk=_private_jwk),
            severity=Severity.CRITICAL,
            rationale=why_embedded + " A private member makes it worse, not better.",
            references=(
                "RFC 8725bis §3.10",
                "OIDF DPoP jwk with private key",
                "Wycheproof json_web_crypto",
            ),
            anchors=("G02",),
        ),
        token_case(
            "header.jwk.symmetric_key",
            "An embedded symmetric jwk with an HS256 MAC made with it is refused",
            category=CATEGORY,
            build=_symmetric_jwk,
            severity=Severity.CRITICAL,
            rationale="A symmetric key in the token is a key the attacker chose.",
            references=("RFC 8725bis §3.10", "Wycheproof json_web_crypto"),
            anchors=("G02",),
        ),
    ]
    url_cases = (
        ("jku.attacker_jwks", "a jku to the attacker's JWKS (attacker kid)", "G03", "attacker",
         {"jku": _attacker_jwks}),
        ("jku.attacker_jwks_trusted_kid", "a jku to the attacker's JWKS (trusted kid)", "G03",
         "trusted", {"jku": _attacker_jwks}),
        ("jku.userinfo_bypass", "a jku 'trusted-host@attacker-host'", "G04", "attacker",
         {"jku": _jku_variant("userinfo")}),
        ("jku.dot_segments", "a jku under the trusted URL with ../ to the attacker's", "G04",
         "attacker", {"jku": _jku_variant("dot_segments")}),
        ("jku.query_redirect", "a jku of the trusted URL with the attacker's in its query",
         "G04", "attacker", {"jku": _jku_variant("query")}),
        ("x5u.attacker_cert", "an x5u to the attacker's certificate", "G05", "attacker",
         {"x5u": _attacker_cert}),
        ("jwk.x5u_member", "an embedded jwk whose x5u names the attacker's certificate",
         "G05", "attacker",
         {"jwk": lambda ctx, where: {**_public_jwk(ctx), "x5u": where.cert_url}}),
    )  # fmt: skip
    out += [
        case(
            f"header.{name}",
            f"A token signed by the attacker with {what} is refused and nothing is fetched",
            category=CATEGORY,
            run=_no_attacker_fetch(kid=kid, **members),
            severity=Severity.CRITICAL,
            rationale=(
                "Keys must come from the configured JWKS only. Following a URL in the token "
                "lets the attacker supply the key, and turns the endpoint into an SSRF probe."
            ),
            references=(
                "jwt_tool -X s",
                "PortSwigger lab: jku header injection",
                _BCP_INDIRECT,
            ),
            anchors=(row,),
            needs=OOB,
        )
        for name, what, row, kid, members in url_cases
    ]
    out += [
        token_case(
            f"header.x5c.self_signed_{alg.lower()}",
            f"An x5c with a self-signed certificate of the attacker's {alg} key is refused",
            category=CATEGORY,
            build=_attacker_signed(alg, kid="none", x5c=_x5c(alg)),
            severity=Severity.CRITICAL,
            rationale=(
                "A certificate chain in the token is only as good as its root; a self-signed "
                "chain is the attacker vouching for himself."
            ),
            references=(
                "RFC 8725bis §3.10",
                "CVE-2017-2800",
                "CVE-2018-2633",
                "Wycheproof json_web_crypto",
            ),
            anchors=("G06",),
        )
        for alg in ("ES256", "RS256")
    ]
    return out


# --- crit, typ, cty, zip, b64 ---------------------------------------------------------------


def _with(**members: Any) -> Build:
    return lambda ctx: signed(ctx, **members)


def _without(*names: str) -> Build:
    return lambda ctx: signed(ctx, drop=names)


def _nested(ctx: CaseContext) -> str:
    return nested(signed(ctx), standard_header(ctx.key), ctx.key.private_key)


def _deflated(ctx: CaseContext) -> str:
    return signed(ctx, payload=deflate(encode_json(claims_with(ctx))), zip="DEF")


#: id parts of the accepted typ values (ids stay lowercase; case variants are G16).
_TYP_IDS = {
    "JWT": "jwt",
    "application/jwt": "application_jwt",
    "jwt": "jwt_other_case",
    "application/JWT": "application_jwt_other_case",
}


def _processing_cases() -> list[Case]:
    out = [
        token_case(
            f"header.crit.{name}",
            f"crit {name.replace('_', ' ')} is refused",
            category=CATEGORY,
            build=_with(**members),
            level=Level.MUST if name == "unknown_extension" else Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "crit names extensions the recipient MUST understand; a verifier that "
                "ignores crit processes tokens under rules it does not implement."
            ),
            references=("RFC 7515 §4.1.11",),
            anchors=("G13",) if name == "unknown_extension" else ("G14",),
        )
        for name, members in CRIT_VARIANTS.items()
    ]
    typ_ok: list[tuple[str, Build]] = [("absent", _without("typ"))]
    typ_ok += [(_TYP_IDS[value], _with(typ=value)) for value in TYP_ACCEPTED]
    out += [
        token_case(
            f"header.typ.accepted.{name}",
            f"typ {name.replace('_', ' ')} is accepted",
            category=CATEGORY,
            build=build,
            expect=Expect.ACCEPT,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "An assertion without typ, or with JWT in any case (RFC 7519 §5.1), is the "
                "common form; refusing it breaks ordinary signers."
            ),
            references=("RFC 7519 §5.1", "RFC 8725bis §3.11"),
            anchors=("G16",) if name.endswith("_other_case") else ("G15",),
        )
        for name, build in typ_ok
    ]
    typ_bad: list[tuple[str, Any]] = [
        (re.sub(r"[^a-z0-9]+", "_", v.lower()) or "empty", v) for v in TYP_REJECTED
    ]
    typ_bad.append(("number", 123))
    out += [
        token_case(
            f"header.typ.refused.{name}",
            f"typ {value!r} (another kind of JWT) is refused",
            category=CATEGORY,
            build=_with(typ=value),
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "Explicit typing keeps one kind of JWT from being accepted as another (an "
                "access token or DPoP proof replayed as an assertion)."
            ),
            references=("RFC 8725bis §3.11", "OIDF FAPIValidateRequestObjectMediaType"),
            anchors=("G15",),
        )
        for name, value in typ_bad
    ]
    out += [
        token_case(
            "header.cty.nested_jwt",
            "A nested JWT (cty JWT, the payload a valid inner assertion) is refused",
            category=CATEGORY,
            build=_nested,
            severity=Severity.HIGH,
            rationale=(
                "Nesting is not part of this exchange; a verifier that unwraps it may check "
                "one layer and trust the other."
            ),
            references=("RFC 7519 §5.2", "RFC 7519 §7.2", "RFC 8725bis §3.3"),
            anchors=("G17",),
        ),
        token_case(
            "header.cty.jwt_on_claims",
            "cty JWT on an ordinary claims payload is refused",
            category=CATEGORY,
            build=_with(cty="JWT"),
            level=Level.SHOULD,  # signed claims read as claims: strict parsing, no token gained
            severity=Severity.MEDIUM,
            rationale="The header says the payload is a JWT; it is not: the token is malformed.",
            references=("RFC 7519 §5.2",),
            anchors=("G17",),
        ),
    ]
    out += [
        token_case(
            f"header.cty.{name}",
            f"cty {value} (either answer; must not change processing)",
            category=CATEGORY,
            build=_with(cty=value),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "A content type that invites XML or Java deserialisation must not be honoured."
            ),
            references=("PortSwigger JWT attacks (cty)",),
            anchors=("G18",),
        )
        for name, value in (
            ("text_xml", "text/xml"),
            ("java_serialized", "application/x-java-serialized-object"),
        )
    ]
    encodings = (
        ("zip.deflated", "zip DEF with a deflated payload", _deflated),
        ("zip.plain", "zip DEF on a plain payload", _with(zip="DEF")),
        ("b64.false_with_crit", "b64 false (crit b64) on an encoded payload",
         _with(b64=False, crit=["b64"])),
        ("b64.false_without_crit", "b64 false without crit", _with(b64=False)),
    )  # fmt: skip
    out += [
        token_case(
            f"header.{name}",
            f"{what} is refused",
            category=CATEGORY,
            build=build,
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "zip is JWE-only and invites decompression bombs; b64 changes what is signed. "
                "A JWS verifier that honours either disagrees with its peers on the payload."
            ),
            references=("RFC 8725bis §3.6", "RFC 7797"),
            anchors=("G19",),
        )
        for name, what, build in encodings
    ]
    return out


# --- unknown, duplicate and thumbprint members ---------------------------------------------


def _duplicate_header(pairs: Callable[[CaseContext], list[tuple[str, Any]]]) -> Build:
    def build(ctx: CaseContext) -> str:
        return compact(
            json_with_duplicates(pairs(ctx)),
            claims_with(ctx),
            key=ctx.key.private_key,
            alg=ctx.key.alg,
        )

    return build


def _attacker_kid(ctx: CaseContext) -> str:
    return ctx.keyring.attacker(ctx.key.alg).kid


def _thumbprint(name: str) -> Build:
    def build(ctx: CaseContext) -> str:
        size = 32 if "S256" in name else 20  # SHA-256 or SHA-1 thumbprint length
        members: dict[str, Any] = {name: b64url_encode(secrets.token_bytes(size))}
        return signed(ctx, header=None, **members)

    return build


def _member_cases() -> list[Case]:
    unknown = (
        ("string", {"foo": "bar"}),
        ("nested_object", {"x-custom": {"nested": [1, 2, {"deep": True}]}}),
    )
    out = [
        token_case(
            f"header.unknown_member.{name}",
            "Unknown, non-critical header members are ignored and the token accepted",
            category=CATEGORY,
            build=_with(**members),
            expect=Expect.ACCEPT,
            level=Level.SHOULD,  # refusing more than needed is never a security failure
            severity=Severity.LOW,
            rationale="RFC 7515 §4: members that are not understood are ignored unless in crit.",
            references=("RFC 7515 §4", "OIDF DPoP extra header members"),
            anchors=("G20",),
        )
        for name, members in unknown
    ]
    duplicates: tuple[tuple[str, str, Callable[[CaseContext], list[tuple[str, Any]]]], ...] = (
        ("alg_es256_then_none", '"alg":"ES256" then "alg":"none"',
         lambda ctx: [("alg", ctx.key.alg), ("kid", ctx.key.kid), ("alg", "none")]),
        ("alg_none_then_es256", '"alg":"none" then "alg":"ES256"',
         lambda ctx: [("alg", "none"), ("kid", ctx.key.kid), ("alg", ctx.key.alg)]),
        ("kid_attacker_then_trusted", "the attacker kid then the trusted kid",
         lambda ctx: [("alg", ctx.key.alg), ("kid", _attacker_kid(ctx)), ("kid", ctx.key.kid)]),
        ("typ_at_jwt_then_jwt", '"typ":"at+jwt" then "typ":"JWT"',
         lambda ctx: [("alg", ctx.key.alg), ("kid", ctx.key.kid), ("typ", "at+jwt"),
                      ("typ", "JWT")]),
    )  # fmt: skip
    out += [
        token_case(
            f"header.duplicate.{name}",
            f"A header with duplicate members ({what}) is refused",
            category=CATEGORY,
            build=_duplicate_header(pairs),
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "Two parsers that pick different duplicates (first-wins vs last-wins) see "
                "different algs or keys: the checker and the user of the token disagree."
            ),
            references=("RFC 7515 §4", "RFC 8725bis §2.6"),
            anchors=("G21",),
        )
        for name, what, pairs in duplicates
    ]
    out += [
        token_case(
            f"header.thumbprint_mismatch.{name.replace('#', '_').lower()}",
            f"{name} not matching the selected key (either answer)",
            category=CATEGORY,
            build=_thumbprint(name),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "A thumbprint that matches no key signals a wrong or substituted key; a "
                "verifier may refuse or ignore it."
            ),
            references=("OIDF AbstractVerifyJwsSignature (x5t#S256 filter)",),
            anchors=("G22",),
        )
        for name in ("x5t#S256", "x5t")
    ]
    return out


CASES: tuple[Case, ...] = (
    *_key_carrying_cases(),
    *_kid_cases(),
    *_processing_cases(),
    *_member_cases(),
)

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
