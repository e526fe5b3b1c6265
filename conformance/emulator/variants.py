"""Named policy variants: legitimate differences between correct servers.

A flaw (``flaws.py``) breaks a behaviour; a variant does not. Each variant is a setting
of :class:`~.config.EmulatorConfig` that a well-regarded server may choose — a tighter
or looser clock tolerance, a longer maximum lifetime, a stricter or more lenient parser,
another status code for a refusal — and that gives an attacker nothing. The suite run
against any variant, knowing none of its numbers, must report no ``fail`` and no
``error`` (warnings are allowed: they say "stricter or looser than recommended"); the
policy-variant matrix (``tests/test_policy_variants.py``, ``tools/policy_matrix.py``)
proves it.

Variants compose: several at once apply all their settings; two that set the same
setting to different values (``leeway_5s`` and ``leeway_120s``) refuse to combine.

This module is pure data: importing it is cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError

if TYPE_CHECKING:
    from .config import EmulatorConfig

__all__ = ["VARIANTS", "Variant", "check_variants", "variant_settings", "with_variants"]


@dataclass(frozen=True, slots=True)
class Variant:
    """One named, legitimate policy difference."""

    name: str
    description: str  # what it changes
    why: str  # why a correct server may do it
    settings: Mapping[str, Any]  # EmulatorConfig fields it sets


_ALL = (
    Variant(
        "leeway_5s",
        "clock tolerance 5 s instead of 30 s",
        "RFC 7519 leaves the leeway to the implementer ('a few minutes at most'); a tight "
        "one is stricter, never weaker",
        {"leeway_s": 5},
    ),
    Variant(
        "leeway_120s",
        "clock tolerance 120 s instead of 30 s",
        "still well under the 5 minutes RFC 7519 §4.1.4 calls 'a few minutes'; common for "
        "fleets with loose clocks",
        {"leeway_s": 120},
    ),
    Variant(
        "max_lifetime_3600s",
        "maximum assertion lifetime 3600 s instead of 600 s",
        "RFC 7523 §3 only says 'unreasonably far in the future' MAY be refused; one hour "
        "is the usual upper choice",
        {"max_assertion_lifetime_s": 3600},
    ),
    Variant(
        "iss_optional",
        "an assertion without iss is accepted (iss is compared only when present)",
        "the signature by the environment's own key already names the issuer; a missing "
        "iss grants nothing",
        {"require_iss": False},
    ),
    Variant(
        "typ_unchecked",
        "the typ header is ignored",
        "typ is advisory in RFC 7519 §5.1; explicit typing (RFC 8725 §3.11) is a SHOULD "
        "for new profiles",
        {"check_typ": False},
    ),
    Variant(
        "lenient_json",
        "header and payload are parsed with Python's json defaults: NaN/Infinity, "
        "UTF-16/32, duplicate members (last wins)",
        "the JSON is signed: a lenient parser reads only what the signer wrote, and NaN "
        "still fails every claim type check",
        {"lenient_json": True, "duplicate_members": "last"},
    ),
    Variant(
        "duplicates_last_wins",
        "duplicate member names keep the last value (ECMAScript JSON.parse) instead of "
        "refusing the token",
        "RFC 7515 §5.2 lets a parser either reject duplicates or use the lexically last "
        "one (ECMAScript)",
        {"duplicate_members": "last"},
    ),
    Variant(
        "unknown_header_refused",
        "header members outside RFC 7515's registered names are refused",
        "refusing what one does not understand is stricter than ignoring it",
        {"unknown_header": "refuse"},
    ),
    Variant(
        "unknown_claims_refused",
        "assertion claims outside RFC 7519's registered names and scope are refused",
        "RFC 7519 §4 ignores claims not understood 'unless otherwise required by the "
        "application'; an application may require exactly its documented claims (a closed "
        "schema), which is stricter, never weaker",
        {"unknown_claims": "refuse"},
    ),
    Variant(
        "lenient_base64url",
        "base64url segments with '=' padding or whitespace (around the token or inside "
        "a segment) are decoded",
        "the signature is still checked over the segments as sent: lenient decoding forges nothing",
        {"lenient_base64url": True},
    ),
    Variant(
        "kid_ignored_single_key",
        "a kid the JWKS does not name is ignored when exactly one published key fits "
        "the alg (that key verifies)",
        "the key still comes from the environment's JWKS; the kid is only a hint (RFC 7515 §4.1.4)",
        {"kid_ignored_single_key": True},
    ),
    Variant(
        "refusals_400",
        "every refused assertion answers 400",
        "RFC 6749 §5.2 answers invalid_grant with 400",
        {"refusal_status": 400},
    ),
    Variant(
        "refusals_401",
        "every refused assertion answers 401",
        "an unauthenticated request is a 401 (RFC 9110 §15.5.2)",
        {"refusal_status": 401},
    ),
    Variant(
        "refusals_403",
        "every refused assertion answers 403",
        "a request understood but refused is a 403 (RFC 9110 §15.5.4)",
        {"refusal_status": 403},
    ),
)

#: Every variant by name, in a stable order.
VARIANTS: Mapping[str, Variant] = MappingProxyType({v.name: v for v in _ALL})


def check_variants(names: Iterable[str]) -> frozenset[str]:
    """The given variant names as a frozenset; :class:`ConfigError` on an unknown one or on
    two that set one setting to different values."""
    chosen = frozenset(names)
    unknown = sorted(chosen - VARIANTS.keys())
    if unknown:
        raise ConfigError(
            f"unknown variant {', '.join(map(repr, unknown))}; "
            f"known variants: {', '.join(VARIANTS)}"
        )
    variant_settings(chosen)
    return chosen


def variant_settings(names: Iterable[str]) -> dict[str, Any]:
    """The EmulatorConfig settings of the named variants together; ConfigError when two
    of them disagree."""
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for name in sorted(frozenset(names)):
        if name not in VARIANTS:
            raise ConfigError(f"unknown variant {name!r}; known variants: {', '.join(VARIANTS)}")
        for key, value in VARIANTS[name].settings.items():
            if key in merged and merged[key] != value:
                raise ConfigError(
                    f"variants {owner[key]!r} and {name!r} set {key} differently; "
                    "choose one of them"
                )
            merged[key] = value
            owner.setdefault(key, name)
    return merged


def with_variants(config: EmulatorConfig, names: Iterable[str]) -> EmulatorConfig:
    """``config`` with the named variants' settings applied."""
    return dataclasses.replace(config, **variant_settings(names))
