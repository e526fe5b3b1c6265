"""Type and shape confusion for every registered claim (issue 14, class 1).

``claims.py`` and ``times.py`` hold the first type cases (``sub`` as a number, ``aud`` as
an object, ``exp`` as a string...); this module fills the rest of the grid — ``iss``,
``sub``, ``aud``, ``jti``, ``scope``, ``exp``, ``nbf`` and ``iat`` as a string, number,
float, huge or negative number, boolean, null, array or object — plus substring and
superstring matches of ``iss`` and ``aud`` (PyJWT CVE-2024-53861). Shapes the older
modules already send are not repeated here.

How a case is made meaningful: **the wrong-typed claim carries a value that any reading
refuses**. An ``nbf`` sent as a numeric string, a float, an array or a huge number holds
an instant ten minutes ahead: a strict validator refuses the type, a coercing one reads a
future ``nbf`` and refuses the time, and only a validator that *skips* a claim of the wrong
type (Rust jsonwebtoken CVE-2026-25537, fast-jwt CVE-2025-30144) accepts — the one failure
worth a ``must``. Where ignoring the claim gives an attacker nothing (a null ``nbf`` or
``iat`` is as good as none; ``iss`` is optional for a target whose key names the issuer),
the case is ``should``: strict refusal is recommended, lenient-but-safe parsing warns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import Case, CaseContext, Expect, Level, Severity, case, claims_case

if TYPE_CHECKING:
    from .._assertion import Assertion

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "claims"

#: far enough ahead that no clock tolerance covers it (times.HARD_SKEW_S is 300 s)
_AHEAD_S = 600

_TYPE_REFS = (
    "RFC7519 §7.2 step 10 (claims must be valid per their definitions)",
    "CWE-1287",
    "CWE-843",
)

Value = Callable[[CaseContext], Any]


def _issuer(ctx: CaseContext) -> str:
    return str(ctx.settings.issuer)


def _audience(ctx: CaseContext) -> str:
    return str(ctx.settings.audience)


def _subject(ctx: CaseContext) -> str:
    return str(ctx.settings.subjects[0])


def _ahead(ctx: CaseContext) -> int:
    return int(ctx.now()) + _AHEAD_S


def _middle(text: str) -> str:
    """A strict inner slice (``"_abc_"`` → ``"abc"``): what ``claim in expected`` accepts."""
    cut = max(1, len(text) // 4)
    return text[cut:-cut] if len(text) > 2 * cut else text[:-1]


# (claim, shape, title of the value, value, level, expect, anchors)
Row = tuple[str, str, str, Value, Level, Expect, tuple[str, ...]]

_M, _S = Level.MUST, Level.SHOULD
_R, _E = Expect.REJECT, Expect.EITHER

_ROWS: tuple[Row, ...] = (
    # iss: a missing iss is `should` for Dynamic (claims.iss.missing), so is an iss a
    # validator may read as absent; RFC 7523 §3 item 1 makes both `must` (profiles.py)
    ("iss", "number", "a number", lambda ctx: 1, _S, _R, ("B08",)),
    ("iss", "true", "true", lambda ctx: True, _S, _R, ("B08",)),
    ("iss", "null", "null", lambda ctx: None, _S, _R, ("B07", "B08")),
    ("iss", "object", "an object holding the issuer", lambda ctx: {"iss": _issuer(ctx)}, _S, _R,
     ("B08",)),
    # a partial match is a wrong issuer under any reading
    ("iss", "substring", "a strict substring of the issuer",
     lambda ctx: _middle(_issuer(ctx)), _M, _R, ("B08",)),
    ("iss", "superstring", "the issuer with a prefix",
     lambda ctx: "https://attacker.example/" + _issuer(ctx), _M, _R, ("B08",)),
    # sub is the binding: ignored means missing, a misbinding
    ("sub", "float", "a float", lambda ctx: 1.5, _M, _R, ("B03",)),
    ("sub", "negative", "a negative number", lambda ctx: -1, _M, _R, ("B03",)),
    ("sub", "false", "false", lambda ctx: False, _M, _R, ("B03",)),
    ("sub", "array_two", "an array holding another user and the subject",
     lambda ctx: ["someone-else", _subject(ctx)], _M, _R, ("B02", "B03")),
    # aud (when configured) is required: wrong-typed means missing
    ("aud", "true", "true", lambda ctx: True, _M, _R, ("B15",)),
    ("aud", "float", "a float", lambda ctx: 1.5, _M, _R, ("B15",)),
    ("aud", "array_empty", "an empty array", lambda ctx: [], _M, _R, ("B11", "B15")),
    ("aud", "array_nested", "an array holding an array holding the audience",
     lambda ctx: [[_audience(ctx)]], _M, _R, ("B15",)),
    ("aud", "substring", "a strict substring of the audience",
     lambda ctx: _middle(_audience(ctx)), _M, _R, ("B10",)),
    ("aud", "superstring", "the audience with a prefix",
     lambda ctx: "https://attacker.example/" + _audience(ctx), _M, _R, ("B10",)),
    # scope (Dynamic only): required
    ("scope", "true", "true", lambda ctx: True, _M, _R, ("J09",)),
    ("scope", "float", "a float", lambda ctx: 1.5, _M, _R, ("J09",)),
    # exp carries an expired instant: coerced or strict, it is refused
    ("exp", "string_past", "a numeric string of an instant an hour ago",
     lambda ctx: str(int(ctx.now()) - 3600), _M, _R, ("C07", "C02")),
    ("exp", "object", "an object holding an instant an hour ago",
     lambda ctx: {"exp": int(ctx.now()) - 3600}, _M, _R, ("C09",)),
    # nbf carries an instant 10 minutes ahead: only skipping the claim accepts it
    ("nbf", "string_future", "a numeric string 10 minutes ahead",
     lambda ctx: str(_ahead(ctx)), _M, _R, ("C10",)),
    ("nbf", "float_future", "a float 10 minutes ahead (a valid NumericDate)",
     lambda ctx: _ahead(ctx) + 0.5, _M, _R, ("C10",)),
    ("nbf", "array_future", "an array holding an instant 10 minutes ahead",
     lambda ctx: [_ahead(ctx)], _M, _R, ("C10",)),
    ("nbf", "object_future", "an object holding an instant 10 minutes ahead",
     lambda ctx: {"nbf": _ahead(ctx)}, _M, _R, ("C10",)),
    ("nbf", "huge", "1e308 (far in the future)", lambda ctx: 1e308, _M, _R, ("C10",)),
    ("nbf", "int64", "2^64 (far in the future; wraps to 0 in 64-bit integers)",
     lambda ctx: 2**64, _M, _R, ("C10",)),
    ("nbf", "null", "null", lambda ctx: None, _S, _R, ("C10",)),
    ("nbf", "true", "true", lambda ctx: True, _S, _R, ("C10",)),
    ("nbf", "negative", "negative (a valid NumericDate in 1969)", lambda ctx: -1, _S, _E,
     ("C10",)),
    # iat carries an instant 10 minutes ahead; should, as time.iat.future_1hour: the trusted
    # signer dated it, and no RFC MUST makes iat a not-before (oidc-provider checks a future
    # iat only when exp is absent)
    ("iat", "string_future", "a numeric string 10 minutes ahead",
     lambda ctx: str(_ahead(ctx)), _S, _R, ("C13",)),
    ("iat", "float_future", "a float 10 minutes ahead (a valid NumericDate)",
     lambda ctx: _ahead(ctx) + 0.5, _S, _R, ("C13",)),
    ("iat", "array_future", "an array holding an instant 10 minutes ahead",
     lambda ctx: [_ahead(ctx)], _S, _R, ("C13",)),
    ("iat", "huge", "1e308 (far in the future)", lambda ctx: 1e308, _S, _R, ("C13",)),
    ("iat", "null", "null", lambda ctx: None, _S, _R, ("C13",)),
    ("iat", "negative", "negative (issued in 1969: an unbounded lifetime)", lambda ctx: -1, _S,
     _R, ("C14",)),
)  # fmt: skip

_WHY: Mapping[str, str] = {
    "iss": "The issuer names whose keys and users the assertion speaks for. A validator that "
    "compares it with `in`, reads the first element of an array, or skips a non-string iss "
    "honours an assertion minted for another issuer (PyJWT CVE-2024-53861, fast-jwt "
    "CVE-2025-30144).",
    "sub": "sub says whose session is elevated. A non-string sub that a validator skips, "
    "coerces or searches (`subject in sub`) binds the assertion to a user it does not name.",
    "aud": "The audience keeps an assertion minted for another relying party from being "
    "replayed here. A vacuous check (`all()` over an empty array), a substring match or a "
    "skipped non-string aud accepts an assertion for someone else.",
    "jti": "jti is the replay key. A non-string jti that the validator skips disables "
    "replay protection; one it refuses, or coerces and records, does not. The case tells "
    "them apart by replaying the assertion when it was accepted.",
    "scope": "scope decides what the elevated token may do; a non-string scope must not "
    "default to anything.",
    "exp": "The value is an instant an hour ago: a strict validator refuses the type, a "
    "coercing one refuses the time; only one that skips an exp of the wrong type accepts.",
    "nbf": "The value (where there is one) is an instant ten minutes ahead: a strict "
    "validator refuses the type, a coercing one refuses the time, and only a validator that "
    "skips a claim of the wrong type (Rust jsonwebtoken CVE-2026-25537) accepts an "
    "assertion before its nbf. A null or boolean nbf read as absent gains nothing: should.",
    "iat": "The value (where there is one) is an instant ten minutes ahead: only a validator "
    "that skips an iat of the wrong type, or never compares iat with the clock, accepts an "
    "assertion issued in the future. iat age is hardening (the trusted signer dated the "
    "assertion; exp still bounds it), so every iat case is should.",
}

_REFS: Mapping[str, tuple[str, ...]] = {
    "iss": ("RFC7523 §3(1) (simple string comparison)", "RFC7519 §4.1.1", "CVE-2024-53861",
            "CVE-2025-30144", "CWE-697"),
    "sub": ("RFC7519 §4.1.2", "Dynamic docs: sub must match the signed-in user"),
    "aud": ("RFC7519 §4.1.3", "RFC 8725bis §3.9", "CWE-697"),
    "jti": ("RFC7519 §4.1.7 (case-sensitive string)", "Dynamic docs: jti prevents replay"),
    "scope": ("Dynamic docs: scope is a space-delimited string",),
    "exp": ("RFC7519 §4.1.4 (MUST be a number containing a NumericDate)", "CVE-2026-25537"),
    "nbf": ("RFC7519 §4.1.5 (MUST be a number containing a NumericDate)", "CVE-2026-25537"),
    "iat": ("RFC7519 §4.1.6 (MUST be a number containing a NumericDate)", "CVE-2026-25537"),
}  # fmt: skip

_SEVERITY: Mapping[str, Severity] = {
    "iss": Severity.CRITICAL,
    "sub": Severity.CRITICAL,
    "aud": Severity.HIGH,
    "jti": Severity.MEDIUM,
    "scope": Severity.HIGH,
    "exp": Severity.HIGH,
    "nbf": Severity.HIGH,
    "iat": Severity.HIGH,
}


def _set(claim: str, value: Value) -> Callable[[Assertion, CaseContext], Assertion]:
    return lambda a, ctx: a.with_claims({claim: value(ctx)})


def _case(row: Row) -> Case:
    claim, shape, what, value, level, expect, anchors = row
    lenient = level is Level.SHOULD
    return claims_case(
        f"claims.type.{claim}.{shape}",
        f"{claim} is {what}",
        mutate=_set(claim, value),
        expect=expect,
        level=level,
        severity=Severity.MEDIUM if lenient else _SEVERITY[claim],
        anchors=anchors,
        needs=("audience",) if claim == "aud" else (),
        rationale=_WHY[claim],
        correct=(
            "accepts it (a valid NumericDate in the past) or refuses the odd value; never errs"
            if expect is Expect.EITHER
            else "refuses it with a 4xx: a claim of the wrong type is invalid, never skipped"
        ),
        references=(*_REFS[claim], *_TYPE_REFS),
    )


# --- jti: refusing the type and keying the replay guard on it are both safe ---------------

#: (shape, title of the value, value)
_JTI: tuple[tuple[str, str, Any], ...] = (("float", "a float", 1.5), ("false", "false", False))


def _jti_replayed(value: Any) -> Callable[[CaseContext], None]:
    """A wrong-typed jti: refused (strict), or accepted once and its replay refused (the
    value is the replay key, coerced). Only a validator that skips the jti lets the same
    token in twice."""

    def run(ctx: CaseContext) -> None:
        token = ctx.sign(ctx.assertion().with_claims(jti=value))
        if ctx.refused(ctx.send(token, label="wrong-typed jti")):
            return
        again = ctx.send(token, label="replay")
        ctx.check(
            ctx.refused(again),
            f"a jti of {value!r} is skipped: the same assertion was accepted twice",
        )

    return run


def _jti_cases() -> list[Case]:
    return [
        case(
            f"claims.type.jti.{shape}",
            f"jti is {what}; if accepted, the same assertion replayed",
            category=CATEGORY,
            run=_jti_replayed(value),
            expect=Expect.EITHER,
            severity=Severity.HIGH,
            anchors=("H07", "H01"),
            rationale=_WHY["jti"],
            correct=(
                "refuses the wrong-typed jti, or accepts it once and refuses the replay (the "
                "value still keys the replay guard); never accepts the same assertion twice"
            ),
            references=(*_REFS["jti"], *_TYPE_REFS, "CWE-294"),
        )
        for shape, what, value in _JTI
    ]


CASES: tuple[Case, ...] = (*(_case(row) for row in _ROWS), *_jti_cases())

#: threat-catalog rows of this family that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
