"""Cases of the ``scope`` category: what the assertion asks for (rows J01-J11).

The policy: ``scope`` is a non-empty string of known scopes (exact case) separated by
single spaces, no leading or trailing whitespace; duplicates are granted once. The issued
token must carry exactly the requested scopes. Scopes exist in the Dynamic profile only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Kind,
    Level,
    Severity,
    case,
    claims_with,
    issued_claims,
    scope_items,
    signed_payload,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "scope"
Scopes = Callable[[CaseContext], Any]

_WHY = (
    "The scope decides which sensitive operation the elevated token unlocks: a lax parser "
    "(unknown items, wildcards, case folding, truncation at a NUL) turns a request for one "
    "operation into a token for another."
)


def _two(ctx: CaseContext) -> list[str]:
    """Two distinct known scopes, the configured one first."""
    first = str(ctx.settings.scopes[0])
    rest = [s for s in (*ctx.settings.scopes, *ctx.settings.known_scopes) if s != first]
    if not rest:
        ctx.skip("needs two known scopes")
    return [first, str(rest[0])]


def _three(ctx: CaseContext) -> list[str]:
    chosen = list(dict.fromkeys((*ctx.settings.scopes, *ctx.settings.known_scopes)))[:3]
    if len(chosen) < 3:
        ctx.skip("needs three known scopes")
    return [str(s) for s in chosen]


def _first(ctx: CaseContext) -> str:
    return str(ctx.settings.scopes[0])


def _send_scope(value: Scopes) -> Callable[[CaseContext], Exchange]:
    """A recipe whose ``scope`` claim is any JSON value (absent when ``value`` gives ...)."""

    def run(ctx: CaseContext) -> Exchange:
        chosen = value(ctx)
        if chosen is Ellipsis:
            return ctx.send(ctx.sign(ctx.assertion().without("scope")))
        return ctx.send(signed_payload(ctx, claims_with(ctx, scope=chosen)))

    return run


#: (id suffix, title, scope value, rows, level)
_REJECTED: tuple[tuple[str, str, Scopes, tuple[str, ...], Level], ...] = (
    ("missing", "scope is missing", lambda ctx: ..., ("J01",), Level.MUST),
    ("empty", "scope is an empty string", lambda ctx: "", ("J02",), Level.MUST),
    ("blank", "scope is a single space", lambda ctx: " ", ("J02",), Level.MUST),
    ("whitespace", "scope is tabs and newlines", lambda ctx: "\t\n", ("J02",), Level.MUST),
    ("unknown", "scope is an unknown value", lambda ctx: "admin", ("J03",), Level.MUST),
    (
        "unknown_lookalike",
        "scope is a known scope plus a character",
        lambda ctx: _first(ctx) + "x",
        ("J03",),
        Level.MUST,
    ),
    ("unknown_oidc", "scope is an OIDC scope", lambda ctx: "openid", ("J03",), Level.MUST),
    ("upper_case", "scope in upper case", lambda ctx: _first(ctx).upper(), ("J08",), Level.MUST),
    (
        "title_case",
        "scope with a capital first letter",
        lambda ctx: _first(ctx).capitalize(),
        ("J08",),
        Level.MUST,
    ),
    (
        "array",
        "scope is a JSON array of known scopes",
        lambda ctx: [_first(ctx)],
        ("J09",),
        Level.SHOULD,
    ),
    ("number", "scope is a number", lambda ctx: 1, ("J09",), Level.MUST),
    ("null", "scope is null", lambda ctx: None, ("J09",), Level.MUST),
    ("object", "scope is an object", lambda ctx: {"scope": _first(ctx)}, ("J09",), Level.MUST),
    (
        "wildcard_prefix",
        "scope is a prefix wildcard",
        lambda ctx: _first(ctx).split(":")[0] + ":*",
        ("J11",),
        Level.MUST,
    ),
    ("wildcard", "scope is '*'", lambda ctx: "*", ("J11",), Level.MUST),
    (
        "prefix_only",
        "scope is a resource prefix without action",
        lambda ctx: _first(ctx).split(":")[0],
        ("J11",),
        Level.MUST,
    ),
    (
        "nul_suffix",
        "scope is a known scope, a NUL and more",
        lambda ctx: _first(ctx) + "\x00admin",
        ("J11",),
        Level.MUST,
    ),
    (
        "suffix_segment",
        "scope is a known scope with an extra segment",
        lambda ctx: _first(ctx) + ":admin",
        ("J11",),
        Level.MUST,
    ),
)


def _rejected_cases() -> list[Case]:
    return [
        case(
            f"scope.value.{name}",
            title,
            category=CATEGORY,
            run=_send_scope(value),
            rationale=_WHY,
            level=level,
            severity=Severity.HIGH,
            anchors=rows,
            profiles=DYNAMIC,
            references=(
                "Dynamic docs: scope (space-delimited TokenScope values)",
                "jwt_tool claim fuzzing",
            ),
        )
        for name, title, value, rows, level in _REJECTED
    ]


def _granted(
    requested: Scopes, expected: Scopes, *, refusable: bool = False
) -> Callable[[CaseContext], Exchange]:
    """Request ``requested`` (a string); the token must carry exactly the scopes of
    ``expected`` (a list; one named twice grants nothing more, so it is no failure).
    ``refusable``: a clean refusal passes (the request is not the documented contract)."""

    def run(ctx: CaseContext) -> Exchange:
        exchange = ctx.send(ctx.sign(ctx.assertion(scope=requested(ctx))))
        if refusable and not ctx.accepted(exchange):
            return exchange
        items = scope_items(issued_claims(ctx, exchange, check="scope").get("scope"))
        want = list(expected(ctx))
        ctx.check(
            set(items) == set(want),
            f"the issued token's scope is {' '.join(items)!r}, not exactly {' '.join(want)!r}",
        )
        return exchange

    return run


def _lenient(requested: Scopes, intended: Scopes) -> Callable[[CaseContext], None]:
    """Refusing is fine; accepting is fine only if the token carries exactly ``intended``
    (a normalised reading), never a part of it or the raw string."""

    def run(ctx: CaseContext) -> None:
        exchange = ctx.send(ctx.sign(ctx.assertion(scope=requested(ctx))))
        ctx.check(not exchange.misbehaved, f"the target erred (status {exchange.status})")
        ctx.fact("scope_normalised", exchange.accepted)
        if exchange.accepted:
            items = scope_items(issued_claims(ctx, exchange, check="scope").get("scope"))
            want = list(intended(ctx))
            ctx.check(
                sorted(set(items)) == sorted(want),
                f"accepted, but granted {items}, not exactly {want}",
            )

    return run


def _mixed(ctx: CaseContext) -> None:
    """A valid and an unknown scope: refuse, or grant only the valid one and report it."""
    first = _first(ctx)
    exchange = ctx.send(ctx.sign(ctx.assertion(scope=f"{first} conformance:unknown")))
    ctx.check(not exchange.misbehaved, f"the target erred (status {exchange.status})")
    if exchange.accepted:
        items = scope_items(issued_claims(ctx, exchange, check="scope").get("scope"))
        ctx.check(items == [first], f"accepted, and granted {items} instead of only {first!r}")


_DELIMITERS: tuple[tuple[str, str, Callable[[list[str]], str]], ...] = (
    ("comma", "comma-separated", ",".join),
    ("comma_space", "comma-and-space-separated", ", ".join),
    ("tab", "tab-separated", "\t".join),
    ("newline", "newline-separated", "\n".join),
    ("double_space", "separated by two spaces", "  ".join),
    ("plus", "plus-separated (form encoding)", "+".join),
    ("leading_space", "with a leading space", lambda s: " " + " ".join(s)),
    ("trailing_space", "with a trailing space", lambda s: " ".join(s) + " "),
)


def _delimited(join: Callable[[list[str]], str]) -> Scopes:
    return lambda ctx: join(_two(ctx))


def _accepted_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _WHY,
        "profiles": DYNAMIC,
        "severity": Severity.HIGH,
    }
    cases = [
        case(
            "scope.multiple.two",
            "Two valid scopes, space-delimited: the token carries exactly both",
            run=_granted(lambda ctx: " ".join(_two(ctx)), _two),
            expect=Expect.ACCEPT,
            kind=Kind.SECURITY,  # judges the grant: exactly the scopes asked for
            anchors=("J05", "L03"),
            references=("Dynamic docs: space-delimited scopes",),
            **common,
        ),
        case(
            "scope.multiple.three",
            "Three valid scopes, space-delimited: the token carries exactly them",
            run=_granted(lambda ctx: " ".join(_three(ctx)), _three),
            expect=Expect.ACCEPT,
            kind=Kind.SECURITY,
            anchors=("J05", "L03"),
            references=("Dynamic docs: space-delimited scopes",),
            **common,
        ),
        case(
            "scope.multiple.duplicate",
            "The same scope twice grants that scope only",
            run=_granted(
                lambda ctx: f"{_first(ctx)} {_first(ctx)}",
                lambda ctx: [_first(ctx)],
                refusable=True,
            ),
            # a duplicate is no documented request: refusing it is stricter, never unsafe
            expect=Expect.EITHER,
            correct="refuses it, or issues a token whose scope is that one scope (named once "
            "or twice)",
            kind=Kind.SECURITY,
            anchors=("J10", "L03"),
            references=("Dynamic docs: space-delimited scopes",),
            **common,
        ),
        case(
            "scope.multiple.with_unknown",
            "A valid scope together with an unknown one",
            run=_mixed,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            anchors=("J06",),
            references=("RFC8693 §2.2.1 (scope required in the response when it differs)",),
            **common,
        ),
    ]
    cases += [
        case(
            f"scope.delimiter.{name}",
            f"Two valid scopes {what}",
            run=_lenient(_delimited(join), _two),
            expect=Expect.EITHER,
            level=Level.SHOULD,
            anchors=("J07",),
            correct=(
                "refuses it, or grants exactly the two scopes; never a partial or garbled grant"
            ),
            **common,
        )
        for name, what, join in _DELIMITERS
    ]
    return cases


CASES: tuple[Case, ...] = (*_rejected_cases(), *_accepted_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {
    "J04": (
        "needs an environment or user for which some known scope is not enabled; the reference "
        "policy (and the emulator) enable every known scope, and the suite has no setting that "
        "names a disabled scope yet"
    ),
}
