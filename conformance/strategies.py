"""Hypothesis strategies for assertion claim sets and JWS headers near a valid one.

Small named pieces, composed. Each draw starts from the valid input and applies zero to
three mutations, so shrinking leads back to the valid one and a failing example shows
only what matters. Time mutations stay at least ``margin_s`` seconds clear of every
boundary of the policy (leeway, lifetime, ``nbf < exp``) so that clock rounding between
this machine and the target cannot flip the verdict; judge draws with
:func:`conformance._oracle.violations`.

Misuse (a non-mapping ``valid``, a header without a string ``alg``, a negative leeway)
raises ``hypothesis.errors.InvalidArgument`` when the strategy is built.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._settings import KNOWN_SCOPES

__all__ = [
    "CI_PROFILE",
    "DEV_PROFILE",
    "claim_sets",
    "header_mutations",
    "json_values",
    "register_profiles",
    "scope_values",
    "subject_variants",
    "unknown_claims",
    "wrong_type_values",
]

CI_PROFILE = "ci"
DEV_PROFILE = "dev"

#: Claim names the policy gives a meaning to: never used for "unknown" claims.
RESERVED_CLAIMS = frozenset({"sub", "scope", "jti", "exp", "iss", "iat", "nbf", "aud"})
#: Header members the policy gives a meaning to (or that fetch): never "harmless" extras.
RESERVED_HEADER = frozenset(
    {
        "alg",
        "kid",
        "typ",
        "cty",
        "crit",
        "b64",
        "zip",
        "jku",
        "x5u",
        "x5c",
        "x5t",
        "x5t#S256",
        "jwk",
        "enc",
    }
)
_TIME_CLAIMS = ("exp", "iat", "nbf")
_MAX_MUTATIONS = 3


def register_profiles(*, ci_examples: int = 200, dev_examples: int = 50) -> None:
    """Register the ``"ci"`` profile (derandomised, no deadline, no example database, the
    reproduction blob printed) and a quicker ``"dev"`` one. Idempotent; loads neither."""
    settings.register_profile(
        CI_PROFILE,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=True,
        max_examples=ci_examples,
        # Each example is a network round trip to the target: slow by Hypothesis' measure.
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        DEV_PROFILE,
        # explicit: a profile inherits the default, which is Hypothesis' own CI profile
        # (derandomised) whenever CI is set in the environment
        derandomize=False,
        deadline=None,
        print_blob=True,
        max_examples=dev_examples,
        suppress_health_check=[HealthCheck.too_slow],
    )


# --- pieces ---------------------------------------------------------------------------


def json_values(*, max_leaves: int = 4) -> st.SearchStrategy[Any]:
    """Any JSON value (no NaN or infinities: those are not JSON)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def wrong_type_values(value: Any) -> st.SearchStrategy[Any]:
    """JSON values of another JSON type than ``value``, favouring the confusable ones
    (``"123"`` for ``123``, ``[x]`` for ``x``, ``true`` for a number)."""
    kind = _json_type(value)
    confusable: list[Any] = [None, True, False, [value], {"value": value}, 0, 1, ""]
    if kind == "number":
        confusable += [str(value), str(int(value))]
    if kind == "string":
        confusable += [[value, value]]
        if value.strip().lstrip("-").isdigit():
            confusable.append(int(value))
    different = [v for v in confusable if _json_type(v) != kind]
    return st.sampled_from(different) | json_values().filter(lambda v: _json_type(v) != kind)


def subject_variants(*, subject: str) -> st.SearchStrategy[str]:
    """Strings that look like ``subject`` but are not it (case, Unicode normalisation,
    homoglyphs, invisible characters, whitespace), plus ``subject`` itself and any text."""
    homoglyphs = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х"})
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in subject)
    candidates = [
        subject,
        subject.upper(),
        subject.lower(),
        subject.swapcase(),
        subject + " ",
        " " + subject,
        subject + "\u200b",
        "\u200d" + subject,
        subject + "\x00",
        subject.translate(homoglyphs),
        fullwidth,
        unicodedata.normalize("NFD", subject),
        unicodedata.normalize("NFKC", fullwidth),
        subject + "-other",
        subject[:-1],
    ]
    return st.sampled_from(list(dict.fromkeys(candidates))) | st.text(min_size=1, max_size=24)


def scope_values(*, known_scopes: Sequence[str]) -> st.SearchStrategy[str]:
    """Scope strings: single-space lists of known scopes (valid, duplicates included) and
    broken ones (unknown or case-changed items, double, leading or trailing spaces, tabs,
    commas, the empty string). Raises ``InvalidArgument`` for an empty ``known_scopes``."""
    if not known_scopes:
        raise InvalidArgument("known_scopes must name at least one scope")
    known = list(known_scopes)
    items = st.lists(st.sampled_from(known), min_size=1, max_size=3)
    valid = items.map(" ".join)
    unknown_item = st.sampled_from(
        [s.upper() for s in known[:3]]
        + ["admin", "wallet:*", "*", "openid", known[0] + "s", known[0] + "\u200b"]
    ) | st.text(
        alphabet=st.characters(codec="ascii", exclude_characters=" "), min_size=1, max_size=12
    )
    with_unknown = st.tuples(items, unknown_item).map(lambda t: " ".join([*t[0], t[1]]))
    separators = st.sampled_from(["  ", "\t", ",", ", ", "\n", "+", "\u00a0"])
    badly_joined = st.tuples(items.filter(lambda i: len(i) > 1), separators).map(
        lambda t: t[1].join(t[0])
    )
    padded = st.tuples(valid, st.sampled_from([" ", "\t", "\n"]), st.booleans()).map(
        lambda t: t[1] + t[0] if t[2] else t[0] + t[1]
    )
    return st.one_of(valid, with_unknown, badly_joined, padded, st.just(""))


def unknown_claims(
    *, reserved: frozenset[str] = RESERVED_CLAIMS
) -> st.SearchStrategy[dict[str, Any]]:
    """One to three claims the policy does not know (they must grant nothing), including
    names that sound powerful (``admin``, ``role``, ``scp``)."""
    names = st.sampled_from(
        ["admin", "role", "roles", "scp", "client_id", "cnf", "act", "Sub", "SCOPE"]
    ) | st.text(min_size=1, max_size=12)
    return st.dictionaries(
        names.filter(lambda n: n not in reserved), json_values(), min_size=1, max_size=3
    )


# --- time boundaries ------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _boundaries(
    name: str, claims: Mapping[str, Any], *, now: int, leeway: int, max_life: int
) -> list[Any]:
    """Where the verdict for claim ``name`` flips, given the other claims."""
    other = {k: claims[k] for k in _TIME_CLAIMS if k != name and _number(claims.get(k))}
    if name == "exp":
        out = [now - leeway, now + max_life + leeway]
        if "iat" in other:
            out.append(other["iat"] + max_life + leeway)
        if "nbf" in other:
            out.append(other["nbf"])
        return out
    out = [now + leeway]
    if "exp" in other:
        out.append(other["exp"] - max_life - leeway if name == "iat" else other["exp"])
    return out


def _clear(claims: Mapping[str, Any], *, now: int, leeway: int, max_life: int, margin: int) -> bool:
    for name in _TIME_CLAIMS:
        value = claims.get(name)
        if _number(value):
            bounds = _boundaries(name, claims, now=now, leeway=leeway, max_life=max_life)
            if any(abs(value - b) < margin for b in bounds):
                return False
    return True


# --- claim sets -----------------------------------------------------------------------


def claim_sets(
    *,
    valid: Mapping[str, Any],
    now: int,
    leeway_s: int = 30,
    max_lifetime_s: int = 600,
    known_scopes: Sequence[str] = KNOWN_SCOPES,
    margin_s: int = 3,
) -> st.SearchStrategy[dict[str, Any]]:
    """Claim sets near ``valid`` (which the policy accepts at ``now``): ``valid`` itself,
    or zero to three of: a claim dropped, a claim of another JSON type, ``exp``/``iat``/
    ``nbf`` moved around the leeway and lifetime boundaries (never within ``margin_s`` of
    one), ``sub`` variants, scope variants (only when ``valid`` has a ``scope``),
    ``jti``/``iss``/``aud`` variants, extra unknown claims.

    Raises ``InvalidArgument`` for a non-mapping ``valid``, a non-integer ``now`` or
    negative ``leeway_s``/``max_lifetime_s``/``margin_s``.
    """
    if not isinstance(valid, Mapping):
        raise InvalidArgument(f"valid must be a mapping of claims, not {type(valid).__name__}")
    if isinstance(now, bool) or not isinstance(now, int):
        raise InvalidArgument("now must be an int (Unix seconds)")
    if min(leeway_s, max_lifetime_s, margin_s) < 0:
        raise InvalidArgument("leeway_s, max_lifetime_s and margin_s must be >= 0")
    if not known_scopes:
        raise InvalidArgument("known_scopes must name at least one scope")
    base = dict(valid)
    limits = {"now": now, "leeway": leeway_s, "max_life": max_lifetime_s}
    # a valid set without scope is a contract without a scope claim: none is added
    mutations = _CLAIM_MUTATIONS if "scope" in base else _CLAIM_MUTATIONS_NO_SCOPE

    @st.composite
    def draw_set(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
        claims = dict(base)
        for _ in range(draw(st.integers(0, _MAX_MUTATIONS))):
            kind = draw(st.sampled_from(mutations))
            claims = kind(draw, claims, limits, known_scopes, margin_s)
        return claims

    return draw_set()


_Draw = Callable[[st.SearchStrategy[Any]], Any]


def _drop(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    if not claims:
        return claims
    name = draw(st.sampled_from(sorted(claims)))
    return {k: v for k, v in claims.items() if k != name}


def _retype(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    if not claims:
        return claims
    name = draw(st.sampled_from(sorted(claims)))
    return {**claims, name: draw(wrong_type_values(claims[name]))}


def _shift_time(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    name = draw(st.sampled_from(_TIME_CLAIMS))
    bounds = _boundaries(
        name, claims, now=limits["now"], leeway=limits["leeway"], max_life=limits["max_life"]
    )
    extra = draw(st.integers(0, 120))
    # Both sides of every boundary, at the margin and a drawn distance further out.
    candidates = sorted({b + s * (margin + d) for b in bounds for s in (-1, 1) for d in (0, extra)})
    candidates += [limits["now"] * 1000, 0]  # milliseconds; the epoch
    fitting = [
        int(c)
        for c in candidates
        if _clear(
            {**claims, name: int(c)},
            now=limits["now"],
            leeway=limits["leeway"],
            max_life=limits["max_life"],
            margin=margin,
        )
    ]
    if not fitting:
        return claims
    return {**claims, name: draw(st.sampled_from(fitting))}


# Building (and validating) a strategy costs more than drawing from it: the mutations
# below draw from strategies made once per argument, not once per example.
@functools.lru_cache(maxsize=64)
def _subject_variants(subject: str) -> st.SearchStrategy[str]:
    return subject_variants(subject=subject)


@functools.lru_cache(maxsize=16)
def _scope_values(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    return scope_values(known_scopes=known)


@functools.lru_cache(maxsize=1)
def _unknown_claims() -> st.SearchStrategy[dict[str, Any]]:
    return unknown_claims()


def _subject(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        return claims
    return {**claims, "sub": draw(_subject_variants(subject))}


def _scope(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    return {**claims, "scope": draw(_scope_values(tuple(known)))}


def _strings(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    name = draw(st.sampled_from(["jti", "iss", "aud"]))
    value = claims.get(name)
    text = value if isinstance(value, str) else "x"
    variants: list[Any] = [text + "/", text.upper(), text + " ", "", text + "\u200b"]
    if name == "jti":
        variants += ["j" * 256, "j" * 257, "ü" * 40]
    if name == "aud":
        variants += [
            [text],
            [text, "https://other.example"],
            ["https://other.example"],
            [],
            [text, 1],
        ]
    return {**claims, name: draw(st.sampled_from(variants))}


def _extra(
    draw: _Draw, claims: dict[str, Any], limits: Any, known: Sequence[str], margin: int
) -> dict[str, Any]:
    return {**claims, **draw(_unknown_claims())}


_CLAIM_MUTATIONS = (_drop, _retype, _shift_time, _shift_time, _subject, _scope, _strings, _extra)
_CLAIM_MUTATIONS_NO_SCOPE = tuple(m for m in _CLAIM_MUTATIONS if m is not _scope)


# --- headers --------------------------------------------------------------------------


def header_mutations(
    *, valid: Mapping[str, Any], kids: Sequence[str] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Headers near ``valid``: ``valid`` itself, or one or two of: ``typ`` variants (absent,
    accepted spellings, refused ones), extra harmless parameters, ``crit``, ``cty``,
    ``b64``, ``zip``, ``alg`` in other cases or other names, ``kid`` variants (absent,
    empty, unknown, non-string, one of ``kids``). Judge with the oracle, resolving the
    drawn ``kid`` to a key yourself.

    Raises ``InvalidArgument`` when ``valid`` is not a mapping with a string ``alg``.
    """
    if not isinstance(valid, Mapping) or not isinstance(valid.get("alg"), str):
        raise InvalidArgument("valid must be a header mapping with a string 'alg'")
    base = dict(valid)
    alg: str = base["alg"]
    absent = object()
    typ = st.sampled_from(
        [
            absent,
            "JWT",
            "jwt",
            "application/jwt",
            "Application/JWT",
            "at+jwt",
            "JOSE",
            "application/jose",
            "",
            1,
            None,
        ]
    )
    alg_variants = st.sampled_from(
        list(
            dict.fromkeys(
                [
                    "RS256" if alg != "RS256" else "ES256",
                    alg,
                    alg.lower(),
                    alg.upper(),
                    alg.title(),
                    alg + " ",
                    "none",
                    "None",
                    "NONE",
                    "HS256",
                    "ES257",
                    "",
                ]
            )
        )
    )
    kid = st.sampled_from([absent, "", "no-such-kid", 123, None, "../../../dev/null", *kids])
    harmless = st.text(min_size=1, max_size=10).filter(lambda n: n not in RESERVED_HEADER)
    edits: list[st.SearchStrategy[tuple[str, Any]]] = [
        st.tuples(st.just("typ"), typ),
        st.tuples(st.just("alg"), alg_variants),
        st.tuples(st.just("kid"), kid),
        st.tuples(st.just("crit"), st.sampled_from([["exp"], [], ["x-custom"], "exp"])),
        st.tuples(st.just("cty"), st.sampled_from(["JWT", "json", "application/json"])),
        st.tuples(st.just("b64"), st.booleans()),
        st.tuples(st.just("zip"), st.just("DEF")),
        st.tuples(harmless, json_values()),
    ]

    @st.composite
    def draw_header(draw: _Draw) -> dict[str, Any]:
        header = dict(base)
        for _ in range(draw(st.integers(0, 2))):
            name, value = draw(st.one_of(edits))
            if value is absent:
                header.pop(name, None)
            else:
                header[name] = value
        return header

    return draw_header()
