"""Cases of the ``errors`` category: how refusals look (rows M01-M04).

A handful of representative negatives, each judged on its status (400/401/403; here a
5xx is a failure, not just an error verdict), its body (JSON with an ``error`` string),
what the body discloses, and the charset of the message. The RFC 7523 error codes
(``invalid_grant`` vs ``invalid_client``, rows N01-N12) live in ``rfc7523.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._hygiene import LEAKS, disclosures, echoes_public_key
from ..forge import compact
from ..targets.base import NOT_REFUSALS
from .authoring import Case, CaseContext, Level, Severity, break_signature, case, header_for

if TYPE_CHECKING:
    from ..targets.base import Exchange

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE", "REFUSAL_STATUSES"]

CATEGORY = "errors"
#: 422 is what schema validators (FastAPI, NestJS) answer for a wrong body type (row A04)
REFUSAL_STATUSES = frozenset({400, 401, 403, 422})

Negative = Callable[[CaseContext], "tuple[Exchange, str]"]


def _token(build: Callable[[CaseContext], str]) -> Negative:
    def send(ctx: CaseContext) -> tuple[Exchange, str]:
        token = build(ctx)
        return ctx.send(token, label="negative"), token

    return send


def _body(body: bytes) -> Negative:
    def send(ctx: CaseContext) -> tuple[Exchange, str]:
        token = ctx.sign(ctx.assertion())
        return ctx.send(token, raw_body=body, label="negative"), token

    return send


def _no_session(ctx: CaseContext) -> tuple[Exchange, str]:
    token = ctx.sign(ctx.assertion())
    return ctx.send(token, anonymous=True, label="negative"), token


def _hs256_public_key(ctx: CaseContext) -> str:
    """HS256 MACed with the trusted key's public JWK text (a key-confusion attempt)."""
    secret = json.dumps(dict(ctx.key.public_jwk)).encode()
    return compact(
        header_for(ctx.key, alg="HS256"), dict(ctx.assertion().claims), key=secret, alg="HS256"
    )


#: (name, title, send, Dynamic only)
_NEGATIVES: tuple[tuple[str, str, Negative, bool], ...] = (
    (
        "bad_signature",
        "a broken signature",
        _token(lambda ctx: break_signature(ctx.sign(ctx.assertion()))),
        False,
    ),
    (
        "attacker_key",
        "a signature by an unknown key under the trusted kid",
        _token(lambda ctx: _attacker(ctx)),
        False,
    ),
    ("hs256_public_key", "HS256 keyed with the public key", _token(_hs256_public_key), False),
    ("garbage", "a garbage token", _token(lambda ctx: "not.a.jwt"), False),
    ("empty", "an empty token", _token(lambda ctx: ""), False),
    (
        "expired",
        "an expired assertion",
        _token(lambda ctx: ctx.sign(ctx.assertion().with_claims(exp=ctx.now() - 600))),
        False,
    ),
    (
        "wrong_subject",
        "another user's sub",
        _token(lambda ctx: ctx.sign(ctx.assertion().with_claims(sub="conformance-nobody"))),
        False,
    ),
    ("body_not_json", "a body that is not JSON", _body(b"jwt=not-json"), True),
    ("jwt_number", "jwt as a number", _body(b'{"jwt": 12345}'), True),
    ("body_array", "a JSON array body", _body(b"[]"), True),
    ("no_session", "no session bearer", _no_session, True),
)


def _attacker(ctx: CaseContext) -> str:
    attacker = ctx.keyring.attacker(ctx.key.alg)
    return compact(header_for(ctx.key), dict(ctx.assertion().claims), key=attacker, alg=ctx.key.alg)


# --- the four judgements --------------------------------------------------------------------


def _answered(ctx: CaseContext, exchange: Exchange) -> int:
    """The status of a complete answer that says something about the negative; no or a
    partial answer, or a 408/429/431 (a timeout, a rate limit, headers too large), proves
    nothing: the verdict is ``error``."""
    if not exchange.complete or exchange.status in NOT_REFUSALS:
        ctx.error(f"the target misbehaved: {_describe(exchange)}")
    return exchange.status or 0


def _clean_refusal(ctx: CaseContext, exchange: Exchange) -> None:
    """Go on only with a clean refusal to inspect: a 2xx is inconclusive here (the
    ``errors.status`` case of the same negative reports it), anything else unclean
    (no answer, 3xx, 5xx, 408/429/431) is an ``error``."""
    if not ctx.refused(exchange):
        ctx.skip(
            f"inconclusive: the target answered {exchange.status} to the negative, so there is "
            "no refusal to inspect (the errors.status case of this negative reports it)"
        )


def _describe(exchange: Exchange) -> str:
    if exchange.status is None:
        return f"no answer ({exchange.error})"
    return f"HTTP {exchange.status}" + (f", cut off ({exchange.error})" if exchange.error else "")


def _status(ctx: CaseContext, exchange: Exchange, token: str) -> None:
    status = _answered(ctx, exchange)
    ctx.check(not (200 <= status < 300), f"answered {status}: the negative was accepted")
    ctx.check(status < 500, f"answered {status}: a server error on bad input is a failure")
    ctx.check(status in REFUSAL_STATUSES, f"answered {status}, not 400/401/403")


def _error_body(ctx: CaseContext, exchange: Exchange, token: str) -> None:
    _clean_refusal(ctx, exchange)
    body = exchange.json()
    ctx.check(isinstance(body, dict), "the refusal's body is not a JSON object")
    ctx.check(
        isinstance(body.get("error"), str) and bool(body.get("error")),
        "the refusal has no error string",
    )


_LEAKS = LEAKS  # one list: the per-refusal check (_hygiene) uses the same


def _disclosure(ctx: CaseContext, exchange: Exchange, token: str) -> None:
    # The raw answer, never the recorded one: the recorded body has every remembered
    # secret (this very signature) cut, so an echo would hide from the check.
    text = exchange.answer_text
    public, private = ctx.key_material()
    for what in disclosures(text, token, public=public, private=private):
        ctx.check(False, f"the refusal {what}")
    if echoes_public_key(text, token, public):
        # a public key is public: worth knowing, never a disclosure
        ctx.fact("public_key_echoed", True, "the refusal echoes a public key (no disclosure)")
    # what was disclosed fails on any answer; a pass needs a clean refusal that was read
    _clean_refusal(ctx, exchange)


def _charset(ctx: CaseContext, exchange: Exchange, token: str) -> None:
    _clean_refusal(ctx, exchange)
    body = exchange.json()
    message = body.get("error") if isinstance(body, dict) else None
    if not isinstance(message, str):
        ctx.skip("no error string to inspect (see the errors.body cases)")
        return
    description = body.get("error_description") if isinstance(body, dict) else None
    for name, text in (("error", message), ("error_description", description)):
        if isinstance(text, str):
            bad = sorted({hex(ord(c)) for c in text if ord(c) < 0x20 or ord(c) == 0x7F})
            ctx.check(not bad, f"{name} contains control characters {bad}")


#: (kind, title template, judge, rows, level, rationale)
_JUDGEMENTS: tuple[
    tuple[str, str, Callable[[CaseContext, Any, str], None], str, Level, str], ...
] = (
    (
        "status",
        "Refusal of {} is 400/401/403, never 2xx or 5xx",
        _status,
        "M01",
        Level.MUST,
        "Clients and monitors rely on the status: a 5xx on hostile input is an attacker-triggered "
        "fault (and often the first sign of an unhandled parser path).",
    ),
    (
        "body",
        "Refusal of {} carries a JSON error string",
        _error_body,
        "M02",
        Level.MUST,
        "The documented error shape is a JSON body with an error string; clients that parse it "
        "break on HTML error pages or empty bodies.",
    ),
    (
        "disclosure",
        "Refusal of {} discloses no signature, key or stack trace",
        _disclosure,
        "M03",
        Level.MUST,
        "An error that echoes the expected signature or key material hands the attacker a valid "
        "token (CVE-2019-7644); stack traces map the code for the next attack.",
    ),
    (
        "charset",
        "Refusal of {} has an error free of CR/LF/TAB",
        _charset,
        "M04",
        Level.SHOULD,
        "Control characters in error texts enable log and header injection wherever the message "
        "is copied.",
    ),
)


def _judged(
    send: Negative, judge: Callable[[CaseContext, Any, str], None]
) -> Callable[[CaseContext], None]:
    def run(ctx: CaseContext) -> None:
        exchange, token = send(ctx)
        judge(ctx, exchange, token)

    return run


_CORRECT = 'refuses with 400/401/403 and JSON {"error": "<short text>"} revealing no internals'


def _cases() -> list[Case]:
    return [
        case(
            f"errors.{kind}.{name}",
            title.format(what),
            category=CATEGORY,
            run=_judged(send, judge),
            rationale=rationale,
            correct=_CORRECT,
            level=level,
            severity=Severity.MEDIUM if kind != "disclosure" else Severity.HIGH,
            anchors=(row,),
            profiles=("dynamic",) if dynamic_only else ("dynamic", "rfc7523"),
            needs=("sessions",) if name == "no_session" else (),
            references=(
                "RFC 6749 §5.2",
                "OIDF CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError",
                "OIDF CheckErrorDescriptionFromTokenEndpointResponseErrorContainsCRLFTAB",
                "PayloadsAllTheThings (CVE-2019-7644)",
            ),
        )
        for kind, title, judge, row, level, rationale in _JUDGEMENTS
        for name, what, send, dynamic_only in _NEGATIVES
    ]


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
#: (The RFC 7523 rows N01-N12 are owned by ``rfc7523.py``.)
NOT_APPLICABLE: Mapping[str, str] = {}
