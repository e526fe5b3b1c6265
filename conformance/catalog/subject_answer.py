"""Cases of the ``subject`` category: whom the answer says the token was issued for.

Where the target names the user in its answer (a profile's ``[classify] subject``, the
capability ``reports_subject``), the token or session must be for exactly the
assertion's ``sub``. At a sign-in (Dynamic's external-auth sign-in as a target) a subject
folded on the way in (case, Unicode compatibility forms, stripped whitespace or NUL)
signs one user of the customer's identity provider in as another: ``Alice`` gets
``alice``'s session and wallet. A variant of a subject may be refused, or signed in as a
user of its own; never as the other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .authoring import Case, CaseContext, Severity, case

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "subject"

_WHY = (
    "The answer names the user the token or session is for. If that is not exactly the "
    "assertion's sub, the target maps one external subject onto another user: a user of "
    "the customer's identity provider named 'Alice', or 'alice' with a trailing NUL or a "
    "full-width letter, is signed in as 'alice' and gets her session and wallet."
)
_REFERENCES = (
    "RFC7519 §2 StringOrURI (case-sensitive, no canonicalisation)",
    "CWE-287",
)
#: How many characters of a subject a message shows (a hostile target's answer is bounded).
_SHOWN = 80


def _shown(value: str) -> str:
    """``value`` with every invisible or non-ASCII difference visible (``\\x00``, ``\\uff41``)."""
    return ascii(value[:_SHOWN])


def _subject(ctx: CaseContext) -> str:
    return str(ctx.settings.subjects[0])


def _issued_for(ctx: CaseContext, sub: str, label: str) -> Exchange:
    """Send a valid assertion for ``sub``; the answer's subject decides the caller's check."""
    return ctx.send(ctx.sign(ctx.assertion(subject=sub)), label=label)


def _named(ctx: CaseContext, exchange: Exchange) -> str:
    """The subject an accepted answer names; an accepted answer that names none proves
    nothing (the profile's ``[classify] subject`` path is absent from it)."""
    if exchange.subject is None:
        ctx.error("the issued answer names no subject at the profile's [classify] subject path")
    return exchange.subject or ""


def _exact(ctx: CaseContext) -> None:
    sub = _subject(ctx)
    exchange = _issued_for(ctx, sub, "the subject")
    if not ctx.accepted(exchange):
        ctx.error(f"the valid assertion for {_shown(sub)} was refused: nothing to compare")
    named = _named(ctx, exchange)
    ctx.check(
        named == sub,
        f"the assertion's sub is {_shown(sub)}, the answer is for {_shown(named)}",
    )


def _variant(transform: Callable[[str], str | None]) -> Callable[[CaseContext], None]:
    """The subject, then its variant: the variant is refused or is a user of its own."""

    def run(ctx: CaseContext) -> None:
        sub = _subject(ctx)
        variant = transform(sub)
        if variant is None or variant == sub:
            ctx.skip(f"the subject {_shown(sub)} has no character this variant changes")
            return
        _exact(ctx)
        exchange = _issued_for(ctx, variant, "the variant")
        if ctx.refused(exchange):
            return  # refusing a look-alike subject is stricter, never a failure
        if not ctx.accepted(exchange):  # a 2xx without a usable token: error, in accepted()
            return
        named = _named(ctx, exchange)
        ctx.check(
            named != sub,
            f"the assertion for {_shown(variant)} signed in as {_shown(sub)}: "
            "another user's session",
        )
        ctx.check(
            named == variant,
            f"the assertion's sub is {_shown(variant)}, the answer is for {_shown(named)}",
        )

    return run


def _swap_first_case(sub: str) -> str | None:
    """The first cased letter in the other case (``alice`` → ``Alice``)."""
    for i, char in enumerate(sub):
        if char.swapcase() != char:
            return sub[:i] + char.swapcase() + sub[i + 1 :]
    return None


def _full_width_first(sub: str) -> str | None:
    """The first printable ASCII character in its full-width form (``alice`` →
    ``\\uff41lice``): a different string, equal to the subject under NFKC."""
    for i, char in enumerate(sub):
        if "!" <= char <= "~":
            variant = sub[:i] + chr(ord(char) + 0xFEE0) + sub[i + 1 :]
            return variant if unicodedata.normalize("NFKC", variant) == sub else None
    return None


def _cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": _WHY,
        "severity": Severity.CRITICAL,
        "needs": ("reports_subject",),
        "control": False,
    }
    variant = {
        **common,
        "correct": "issues the subject's token for exactly its sub, and refuses the variant "
        "or issues it for the variant itself (a user of its own), never for the subject",
    }
    unicode_refs = (*_REFERENCES, "RFC7519 §7.3 (no Unicode normalisation)", "CWE-176")
    return [
        case(
            "subject.answer.exact",
            "The answer is for exactly the assertion's sub",
            run=_exact,
            anchors=("L06",),
            references=_REFERENCES,
            correct="issues the token for exactly the assertion's sub",
            **common,
        ),
        case(
            "subject.answer.case_variant",
            "sub differing only in case from a user's is not that user",
            run=_variant(_swap_first_case),
            anchors=("B04", "L06"),
            references=(*_REFERENCES, "CWE-178"),
            **variant,
        ),
        case(
            "subject.answer.trailing_nul",
            "sub with a trailing NUL is not the user without it",
            run=_variant(lambda s: s + "\x00"),
            anchors=("B05", "L06"),
            references=unicode_refs,
            **variant,
        ),
        case(
            "subject.answer.trailing_space",
            "sub with a trailing space is not the user without it",
            run=_variant(lambda s: s + " "),
            anchors=("B05", "L06"),
            references=unicode_refs,
            **variant,
        ),
        case(
            "subject.answer.nfkc_lookalike",
            "sub equal to a user's only under NFKC (a full-width letter) is not that user",
            run=_variant(_full_width_first),
            anchors=("B05", "L06"),
            references=unicode_refs,
            **variant,
        ),
    ]


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
