"""Cases of the ``claims`` category: the assertion's payload (rows B01-B23).

``sub`` must equal the signed-in user exactly, ``iss`` the environment's issuer exactly,
``aud`` (when configured) the audience; unknown claims are ignored and grant nothing.
Each mutation starts from a fresh valid assertion (fresh ``jti`` and times), so a
rejection is caused by the one thing changed.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import (
    Case,
    CaseContext,
    Expect,
    Kind,
    Level,
    Mutation,
    Severity,
    case,
    claims_case,
    claims_with,
    issued_claims,
    no_outbound_fetch,
    scope_items,
    signed_payload,
)

if TYPE_CHECKING:
    from .._assertion import Assertion
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "claims"

_SUB_WHY = (
    "The assertion's sub says whose session is elevated: a sub that is not exactly the "
    "signed-in user lets one user's assertion elevate another's session, or lets a "
    "normalising comparison map an attacker-chosen identifier onto a victim."
)
_ISS_WHY = (
    "The issuer selects whose keys and users the assertion speaks for: without an exact "
    "match an assertion minted for another tenant or by another issuer is honoured."
)
_AUD_WHY = (
    "The audience keeps an assertion minted for another relying party from being "
    "replayed here; when one is configured it is required and must match."
)


def _subject(ctx: CaseContext) -> str:
    return str(ctx.settings.subjects[0])


def _subject_b(ctx: CaseContext) -> str:
    subjects = ctx.settings.subjects
    if len(subjects) < 2:
        ctx.skip("needs a second configured subject")
    return str(subjects[1])


def _set(**changes: Any) -> Mutation:
    return lambda a, ctx: a.with_claims(**changes)


def _set_with(name: str, value: Callable[[CaseContext], Any]) -> Mutation:
    return lambda a, ctx: a.with_claims({name: value(ctx)})


def _drop(*names: str) -> Mutation:
    return lambda a, ctx: a.without(*names)


def _raw(build: Callable[[CaseContext], Any]) -> Callable[[CaseContext], Exchange]:
    """A recipe that signs exactly the payload ``build`` returns (any JSON value or bytes)."""
    return lambda ctx: ctx.send(signed_payload(ctx, build(ctx)))


# --- sub ----------------------------------------------------------------------------------

_FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}
_HOMOGLYPHS = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і"}


def _first_letter_swap(table: Mapping[str, str], text: str) -> str:
    for i, char in enumerate(text):
        if char in table:
            return text[:i] + table[char] + text[i + 1 :]
    return text


def _math_bold(text: str) -> str:
    # NFKC folds MATHEMATICAL BOLD letters back to ASCII: a normalising compare matches.
    bold = {chr(ord("a") + i): chr(0x1D41A + i) for i in range(26)}
    return _first_letter_swap(bold, text)


#: (id suffix, what, transform of the subject)
_SUB_VARIANTS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("case_upper", "in upper case", str.upper),
    ("case_title", "with the first letter swapped in case", lambda s: s[:1].swapcase() + s[1:]),
    ("nfd", "in Unicode NFD form", lambda s: unicodedata.normalize("NFD", s)),
    ("full_width", "in full-width characters", lambda s: "".join(_FULL_WIDTH.get(c, c) for c in s)),
    (
        "homoglyph",
        "with a Cyrillic look-alike letter",
        lambda s: _first_letter_swap(_HOMOGLYPHS, s),
    ),
    ("compat_char", "with an NFKC-compatible math letter", _math_bold),
    ("zero_width", "with a zero-width space inside", lambda s: s[:1] + "\u200b" + s[1:]),
    ("trailing_space", "with a trailing space", lambda s: s + " "),
    ("leading_space", "with a leading space", lambda s: " " + s),
    ("trailing_nul", "with a trailing NUL", lambda s: s + "\x00"),
)


def _variant_of_subject(transform: Callable[[str], str]) -> Mutation:
    def mutate(a: Assertion, ctx: CaseContext) -> Assertion:
        original = _subject(ctx)
        variant = transform(original)
        if variant == original:
            ctx.skip(f"the subject {original!r} has no character this variant changes")
        return a.with_claims(sub=variant)

    return mutate


def _sub_variant_cases() -> list[Case]:
    return [
        claims_case(
            f"claims.sub.{name}",
            f"sub is the user's subject {what}",
            mutate=_variant_of_subject(transform),
            rationale=_SUB_WHY,
            correct="refuses it (sub is compared exactly, no case folding or normalisation)",
            severity=Severity.CRITICAL,
            anchors=("B04",) if name.startswith("case") else ("B05",),
            references=(
                "RFC7519 §2 StringOrURI (case-sensitive, no canonicalisation)",
                "RFC7519 §7.3",
            ),
        )
        for name, what, transform in _SUB_VARIANTS
    ]


_SUB_TYPES: tuple[tuple[str, str, Callable[[CaseContext], Any]], ...] = (
    ("number", "a number", lambda ctx: 123),
    (
        "numeric_of_subject",
        "a number when the subject is numeric",
        lambda ctx: _numeric_subject(ctx),
    ),
    ("array", "an array holding the subject", lambda ctx: [_subject(ctx)]),
    ("object", "an object", lambda ctx: {"id": _subject(ctx)}),
    ("null", "null", lambda ctx: None),
    ("true", "true", lambda ctx: True),
)


def _numeric_subject(ctx: CaseContext) -> int:
    subject = _subject(ctx)
    if not subject.isdigit():
        ctx.skip("the subject is not numeric")
    return int(subject)


def _sub_of(value: Callable[[CaseContext], Any]) -> Callable[[CaseContext], Any]:
    return lambda ctx: claims_with(ctx, sub=value(ctx))


def _sub_cases() -> list[Case]:
    common: dict[str, Any] = {"rationale": _SUB_WHY, "severity": Severity.CRITICAL}
    cases = [
        claims_case(
            "claims.sub.missing",
            "sub is missing",
            mutate=_drop("sub"),
            anchors=("B01",),
            references=("RFC 7523 §3 (2)", "Dynamic docs: sub (the external user id) required"),
            **common,
        ),
        claims_case(
            "claims.sub.other_user",
            "sub is another user of the environment",
            mutate=_set_with("sub", _subject_b),
            anchors=("B02",),
            references=(
                "Dynamic docs: sub must match the signed-in user",
                "OIDF …ClientAssertionWithWrongSubFails",
            ),
            **common,
        ),
        claims_case(
            "claims.sub.empty",
            "sub is an empty string",
            mutate=_set(sub=""),
            anchors=("B06",),
            references=("RFC 7523 §3 (2)", "RFC 7519 §4.1.2"),
            **common,
        ),
        claims_case(
            "claims.sub.blank",
            "sub is whitespace only",
            mutate=_set(sub="  "),
            anchors=("B06",),
            references=("Dynamic docs: sub must match the signed-in user", "RFC 7523 §3 (2)"),
            **common,
        ),
    ]
    cases += [
        case(
            f"claims.sub.type_{name}",
            f"sub is {what}",
            category=CATEGORY,
            run=_raw(_sub_of(value)),
            anchors=("B03",),
            references=("RFC7519 §4.1.2", "jwt_tool -M er"),
            **common,
        )
        for name, what, value in _SUB_TYPES
    ]
    return cases + _sub_variant_cases()


# --- iss ----------------------------------------------------------------------------------


def _swap_scheme(issuer: str) -> str:
    if issuer.startswith("https://"):
        return "http://" + issuer[len("https://") :]
    if issuer.startswith("http://"):
        return "https://" + issuer[len("http://") :]
    return issuer


#: (id suffix, title, transform of the issuer)
_ISS_NEAR: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("wrong", "iss is an unrelated issuer", lambda s: "https://attacker.example"),
    (
        "trailing_slash",
        "iss with a trailing slash added or removed",
        lambda s: s[:-1] if s.endswith("/") else s + "/",
    ),
    ("upper_case", "iss in upper case", str.upper),
    ("scheme_swapped", "iss with http and https swapped", _swap_scheme),
    ("suffix", "iss with a character appended", lambda s: s + "x"),
    ("prefix_only", "iss cut by its last character", lambda s: s[:-1]),
    ("trailing_space", "iss with a trailing space", lambda s: s + " "),
)


def _issuer_variant(transform: Callable[[str], str]) -> Mutation:
    def mutate(a: Assertion, ctx: CaseContext) -> Assertion:
        issuer = str(ctx.settings.issuer)
        variant = transform(issuer)
        if variant == issuer:
            ctx.skip(f"the issuer {issuer!r} has nothing this variant changes")
        return a.with_claims(iss=variant)

    return mutate


def _other_issuer_own_key(ctx: CaseContext) -> Exchange:
    other = ctx.other_environment()
    return ctx.send(ctx.sign(ctx.assertion().with_claims(iss=other.issuer)))


def _other_environment_assertion(ctx: CaseContext) -> Exchange:
    # Only iss and the key change: aud stays this environment's (it is public), so a
    # refusal can only come from the issuer/key binding.
    other = ctx.other_environment()
    assertion = ctx.assertion().with_claims(iss=other.issuer)
    return ctx.send(ctx.sign(assertion, key=ctx.keyring.other_environment(ctx.key.alg)))


def _iss_cases() -> list[Case]:
    common: dict[str, Any] = {
        "rationale": _ISS_WHY,
        "severity": Severity.CRITICAL,
        "references": (
            "RFC7523 §3(1) (simple string comparison)",
            "OIDF …ClientAssertionWithWrongIssFails",
        ),
    }
    cases = [
        claims_case(
            "claims.iss.missing",
            "iss is missing",
            mutate=_drop("iss"),
            anchors=("B07",),
            # should: the environment's own key signed it, so a target that treats iss as
            # optional (the iss_optional policy variant) hands an attacker nothing. Dynamic
            # documents iss for sign-in only; RFC 7523 §3 (1) makes it a MUST (profiles.py);
            # [target.policy] iss = "required" promotes it
            **{**common, "level": Level.SHOULD, "severity": Severity.MEDIUM},
        ),
        claims_case(
            "claims.iss.type_array",
            "iss is an array holding the issuer",
            mutate=lambda a, ctx: a.with_claims(iss=[ctx.settings.issuer]),
            anchors=("B08",),
            **common,
        ),
        case(
            "claims.iss.other_environment",
            "iss of another environment, signed with that environment's key",
            category=CATEGORY,
            run=_other_environment_assertion,
            anchors=("B09", "I03"),
            needs=("second_environment",),
            **{
                **common,
                "references": ("8725bis §3.8", "OIDF CIBA …RequestObjectSignedByOtherClientFails"),
            },
        ),
        case(
            "claims.iss.other_environment_own_key",
            "iss of another environment, signed with this environment's key",
            category=CATEGORY,
            run=_other_issuer_own_key,
            anchors=("B08", "B09"),
            needs=("second_environment",),
            **common,
        ),
    ]
    cases += [
        claims_case(
            f"claims.iss.{name}",
            title,
            mutate=_issuer_variant(transform),
            anchors=("B08",),
            **common,
        )
        for name, title, transform in _ISS_NEAR
    ]
    return cases


# --- aud ----------------------------------------------------------------------------------


def _aud(value: Callable[[str], Any]) -> Mutation:
    return lambda a, ctx: a.with_claims(aud=value(str(ctx.settings.audience)))


def _aud_issuer(a: Assertion, ctx: CaseContext) -> Assertion:
    if ctx.settings.issuer == ctx.settings.audience:
        ctx.skip("the issuer and the audience are the same string")
    return a.with_claims(aud=ctx.settings.issuer)


def _aud_cases() -> list[Case]:
    common: dict[str, Any] = {
        "rationale": _AUD_WHY,
        "needs": ("audience",),
        "references": ("RFC7519 §4.1.3", "8725bis §3.9"),
    }
    rejected: tuple[tuple[str, str, Mutation, tuple[str, ...]], ...] = (
        ("wrong", "aud is another audience", _aud(lambda s: "https://other-rp.example"), ("B10",)),
        ("near_miss", "aud with a character appended", _aud(lambda s: s + "x"), ("B10",)),
        (
            "array_wrong",
            "aud is an array of other audiences",
            _aud(lambda s: ["https://other-rp.example"]),
            ("B10",),
        ),
        ("missing", "aud is missing although an audience is configured", _drop("aud"), ("B11",)),
        ("type_number", "aud is a number", _aud(lambda s: 1), ("B15",)),
        ("type_object", "aud is an object", _aud(lambda s: {"aud": s}), ("B15",)),
        ("type_null", "aud is null", _aud(lambda s: None), ("B15",)),
        ("array_of_number", "aud is an array holding a number", _aud(lambda s: [1]), ("B15",)),
    )
    cases = [
        claims_case(f"claims.aud.{name}", title, mutate=mutate, anchors=rows, **common)
        for name, title, mutate, rows in rejected
    ]
    cases += [
        claims_case(
            "claims.aud.single_element_array",
            "aud is a one-element array holding the audience",
            mutate=_aud(lambda s: [s]),
            expect=Expect.ACCEPT,
            anchors=("B14",),
            **common,
        ),
        claims_case(
            "claims.aud.array_with_extra",
            "aud is an array holding the audience and an unrelated value",
            mutate=_aud(lambda s: [s, "https://other-rp.example"]),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            anchors=("B12",),
            **{
                **common,
                "references": (
                    "OIDF FAPI1 …ArrayAsAudienceForJWTClientAssertion",
                    "OIDF FAPI2 par-test-array-as-audience-fails",
                ),
            },
        ),
        claims_case(
            "claims.aud.issuer_identifier",
            "aud is the issuer identifier instead of the configured audience",
            mutate=_aud_issuer,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            anchors=("B13",),
            **{**common, "references": ("OIDF …ClientAssertionWithIssAudSucceeds",)},
        ),
    ]
    return cases


# --- the rest of the payload --------------------------------------------------------------

_PRIVILEGES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("admin", "admin: true", {"admin": True}),
    (
        "role",
        "role and groups of an administrator",
        {"role": "admin", "roles": ["admin"], "groups": ["admin"]},
    ),
    ("scp", "scp and scopes listing every known scope", {}),
    (
        "permissions",
        "permissions and authorization_details",
        {"permissions": ["*"], "authorization_details": [{"type": "wallet", "actions": ["*"]}]},
    ),
)


def _privileged(extra: dict[str, Any]) -> Callable[[CaseContext], Exchange]:
    def run(ctx: CaseContext) -> Exchange:
        claims = dict(extra) or {
            "scp": list(ctx.settings.known_scopes),
            "scopes": " ".join(ctx.settings.known_scopes),
        }
        requested = ctx.settings.scopes[0]
        exchange = ctx.send(ctx.sign(ctx.assertion(scope=requested).with_claims(claims)))
        if not ctx.accepted(exchange):  # refusing undocumented claims grants nothing
            return exchange
        issued = issued_claims(ctx, exchange, check="scope")
        ctx.check(
            scope_items(issued.get("scope")) == [requested],
            f"the issued token's scope is {issued.get('scope')!r}, not exactly {requested!r}",
        )
        copied = sorted(set(claims) & set(issued))
        ctx.check(not copied, f"the issued token copied the injected claims {copied}")
        return exchange

    return run


def _duplicate(
    name: str, first: Callable[[CaseContext], Any], last: Callable[[CaseContext], Any]
) -> Callable[[CaseContext], bytes]:
    """A payload whose member ``name`` appears twice: ``first`` then ``last``."""

    def build(ctx: CaseContext) -> bytes:
        claims = dict(ctx.assertion().claims)
        claims.pop(name, None)
        body = json.dumps(claims, separators=(",", ":"))
        key = json.dumps(name)
        pair = f"{key}:{json.dumps(first(ctx))},{key}:{json.dumps(last(ctx))}"
        return ("{" + pair + "," + body[1:]).encode()

    return build


_DUPLICATES: tuple[
    tuple[str, str, str, Callable[[CaseContext], Any], Callable[[CaseContext], Any]], ...
] = (
    (
        "sub_victim_last",
        "sub twice: another user, then the signed-in user",
        "sub",
        _subject_b,
        _subject,
    ),
    (
        "sub_victim_first",
        "sub twice: the signed-in user, then another user",
        "sub",
        _subject,
        _subject_b,
    ),
    (
        "scope",
        "scope twice: the requested scope, then an unknown one",
        "scope",
        lambda ctx: ctx.settings.scopes[0],
        lambda ctx: "admin",
    ),
    (
        "exp",
        "exp twice: valid, then expired",
        "exp",
        lambda ctx: ctx.now() + 120,
        lambda ctx: ctx.now() - 3600,
    ),
)

_NOT_OBJECT: tuple[tuple[str, str, Any], ...] = (
    ("array", "an array of claims", lambda ctx: [dict(ctx.assertion().claims)]),
    ("string", "a JSON string", lambda ctx: _subject(ctx)),
    ("number", "a number", lambda ctx: 1),
    ("null", "null", lambda ctx: None),
    ("true", "true", lambda ctx: True),
)

_WRONG_CASE: tuple[tuple[str, str], ...] = (
    ("sub", "SUB"),
    ("exp", "Exp"),
    ("jti", "JTI"),
    ("iss", "Iss"),
    ("scope", "Scope"),
)


def _renamed(name: str, renamed: str) -> Mutation:
    return lambda a, ctx: a.without(name).with_claims({renamed: a.claims[name]})


def _signin_shaped(ctx: CaseContext) -> Exchange:
    return ctx.send(
        ctx.sign(ctx.assertion().without("scope", "jti").with_claims(exp=ctx.now() + 300))
    )


def _id_token_shaped(ctx: CaseContext) -> Exchange:
    assertion = (
        ctx.assertion()
        .without("scope")
        .with_claims(nonce="n-0S6_WzA2Mj", auth_time=ctx.now() - 60, azp="client")
    )
    return ctx.send(ctx.sign(assertion))


def _payload_cases() -> list[Case]:
    cases = [
        claims_case(
            "claims.extra.unknown_claims",
            "Unknown extra claims are ignored",
            mutate=_set(foo=1, bar={"nested": [1, 2]}, x_custom="value"),
            expect=Expect.ACCEPT,
            severity=Severity.MEDIUM,
            anchors=("B16",),
            rationale=(
                "RFC 7519 says claims that are not understood must be ignored; refusing them "
                "breaks interoperable issuers."
            ),
            references=("RFC7519 §4", "OIDF DPoP (extra claims ignored)"),
        )
    ]
    cases += [
        case(
            f"claims.extra.privilege_{name}",
            f"Injected {what} grant nothing",
            category=CATEGORY,
            run=_privileged(extra),
            # what is issued is judged, not the acceptance: a server that refuses claims its
            # documentation does not name is stricter than needed, never unsafe
            expect=Expect.EITHER,
            severity=Severity.HIGH,
            anchors=("B17", "L03"),
            rationale=(
                "Claims that look like privileges are attacker input: the issued token must carry"
                " the requested scope and nothing the assertion invented."
            ),
            correct=(
                "refuses it, or accepts it and issues a token that carries exactly the requested"
                " scope and none of the injected claims"
            ),
            kind=Kind.SECURITY,  # judges the issued token: an over-scoped grant
            references=(
                "Dynamic docs: scope-bound elevated token",
                "PayloadsAllTheThings (admin: true)",
                "jwt_tool -M cc",
            ),
            profiles=("dynamic",),
        )
        for name, what, extra in _PRIVILEGES
    ]
    cases += [
        case(
            f"claims.payload.{name}",
            f"Claims set is {what}",
            category=CATEGORY,
            run=_raw(build),
            severity=Severity.MEDIUM,
            anchors=("B18",),
            rationale=(
                "A payload that is not a JSON object has no claims: code that indexes into it "
                "blindly either crashes or reads claims from a list."
            ),
            references=("RFC7519 §7.2 step 10",),
        )
        for name, what, build in _NOT_OBJECT
    ]
    cases += [
        claims_case(
            f"claims.name_case.{name}",
            f"{name} is sent as {renamed!r}, so the real claim is missing",
            mutate=_renamed(name, renamed),
            severity=Severity.HIGH,
            level=Level.SHOULD if name == "iss" else Level.MUST,  # as claims.iss.missing
            anchors=("B19",),
            rationale=(
                "Claim names are case-sensitive: a validator that folds case reads a claim that "
                "is not there."
            ),
            references=("RFC7519 §4.1",),
        )
        for name, renamed in _WRONG_CASE
    ]
    cases += [
        case(
            f"claims.duplicate.{name}",
            f"Duplicate claim names: {what}",
            category=CATEGORY,
            run=_raw(_duplicate(claim, first, last)),
            level=Level.SHOULD,
            severity=Severity.HIGH,
            anchors=("B20",),
            rationale=(
                "When JSON parsers disagree on which duplicate wins, the signer, a WAF and the "
                "validator read different claims: an attacker picks the one that passes."
            ),
            references=("RFC7519 §4 (reject, or last-wins)",),
        )
        for name, what, claim, first, last in _DUPLICATES
    ]
    kind: dict[str, Any] = {
        "category": CATEGORY,
        "severity": Severity.HIGH,
        "anchors": ("B21",),
        "rationale": (
            "A JWT minted for another purpose by the same issuer and key (the sign-in JWT, "
            "an ID token) must not double as a step-up assertion."
        ),
        "references": ("8725bis §2.7/§3.12", "Dynamic BYOA docs"),
    }
    cases += [
        case(
            "claims.kind.signin_jwt",
            "A sign-in JWT (no scope, no jti) used as an assertion",
            run=_signin_shaped,
            **kind,
        ),
        case(
            "claims.kind.id_token",
            "An ID-token-shaped JWT (nonce, auth_time, azp, no scope)",
            run=_id_token_shaped,
            **kind,
        ),
    ]
    return cases


# --- hostile values -----------------------------------------------------------------------

_INJECTIONS: tuple[tuple[str, str], ...] = (
    ("sql", "' OR '1'='1' --"),
    ("nosql", '{"$ne": null}'),
    ("xss", "<script>alert('conformance')</script>"),
    ("crlf", "x\r\nX-Injected: conformance"),
    ("log4j", "${jndi:ldap://127.0.0.1:1/conformance}"),
    ("path", "../../../../etc/passwd"),
)


def _reflected(payload: str, exchange: Exchange) -> bool:
    forms = {payload, json.dumps(payload)[1:-1]}
    # the raw answer: the recorded one has its control characters escaped
    text = exchange.answer_text
    return any(form in text for form in forms)


def _injected(claim: str, payload: str) -> Callable[[CaseContext], None]:
    def run(ctx: CaseContext) -> None:
        exchange = ctx.send(ctx.sign(ctx.assertion().with_claims({claim: payload})))
        ctx.check(
            not exchange.misbehaved,
            f"the target erred on an injection in {claim} (status {exchange.status})",
        )
        if claim != "jti":  # any string is a valid jti; sub and scope no longer match
            ctx.check(
                not exchange.accepted,
                f"accepted an assertion whose {claim} is an injection payload",
            )
        ctx.check(
            not _reflected(payload, exchange), f"the response reflects the {claim} payload verbatim"
        )

    return run


def _injection_cases() -> list[Case]:
    return [
        case(
            f"claims.injection.{claim}_{name}",
            f"{name.upper()} payload in {claim}",
            category=CATEGORY,
            run=_injected(claim, payload),
            expect=Expect.EITHER if claim == "jti" else Expect.REJECT,
            severity=Severity.MEDIUM,
            anchors=("B22",),
            rationale=(
                "Claim values are attacker input: they must be treated as opaque strings, never "
                "crash the service and never be echoed into a response."
            ),
            correct=(
                "treats it as an opaque string: a 4xx for sub/scope, never a 5xx, never reflected"
            ),
            references=("jwt_tool reflectedClaims", "8725bis §3.10"),
        )
        for claim in ("sub", "jti", "scope")
        for name, payload in _INJECTIONS
    ]


def _url_in(mutate: Callable[[Assertion, str], Assertion]) -> Callable[[CaseContext], Exchange]:
    def run(ctx: CaseContext) -> Exchange:
        return no_outbound_fetch(ctx, lambda url: ctx.send(ctx.sign(mutate(ctx.assertion(), url))))

    return run


def _url_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "severity": Severity.HIGH,
        "anchors": ("B23",),
        "needs": ("attacker_host",),
        "rationale": (
            "A service that dereferences URLs found in claims (an issuer's discovery "
            "document, a callback) can be made to fetch attacker-chosen addresses: SSRF, and "
            "a way to learn that a token was processed."
        ),
        "references": ("RFC 8725bis §3.10", "jwt_tool injectExternalInteractionPayload"),
    }
    return [
        case(
            "claims.url.iss",
            "iss is a URL on our host; no request reaches it",
            run=_url_in(lambda a, u: a.with_claims(iss=u)),
            correct="refuses it and never fetches the URL",
            **common,
        ),
        case(
            "claims.url.sub",
            "sub is a URL on our host; no request reaches it",
            run=_url_in(lambda a, u: a.with_claims(sub=u)),
            correct="refuses it and never fetches the URL",
            **common,
        ),
        case(
            "claims.url.extra_claims",
            "URL-valued extra claims (jku, x5u, callback) are never fetched",
            run=_url_in(lambda a, u: a.with_claims(jku=u, x5u=u, callback=u, webhook=u, picture=u)),
            # what it fetched is judged, not the acceptance: a server that refuses claims
            # its documentation does not name is stricter than needed, never unsafe
            expect=Expect.EITHER,
            kind=Kind.SECURITY,  # judges what the target fetched (SSRF)
            correct="ignores the unknown claims (accepts) or refuses them, and never fetches "
            "the URLs",
            **common,
        ),
    ]


CASES: tuple[Case, ...] = (
    *_sub_cases(),
    *_iss_cases(),
    *_aud_cases(),
    *_payload_cases(),
    *_injection_cases(),
    *_url_cases(),
)

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
