"""Cases of the ``envelope`` category: the request around the assertion (rows A01-A08).

The session bearer, the JSON body, its ``jwt`` member, the environment in the path and
the request size. Malformed bodies only exist in the Dynamic profile (JSON ``{"jwt"}``);
the RFC 7523 profile's form encoding is covered when its target lands.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..forge import compact
from .authoring import (
    DYNAMIC,
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    break_signature,
    case,
    claims_case,
    header_for,
    rewrite_claims,
    unsigned_copy,
    with_bearer,
)

if TYPE_CHECKING:
    from ..targets.base import Exchange, RequestOptions, Session

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "envelope"

# --- envelope cases -----------------------------------------------------------------------


def _valid_token(ctx: CaseContext) -> str:
    return ctx.sign(ctx.assertion())


def _no_bearer(ctx: CaseContext) -> Exchange:
    return ctx.send(_valid_token(ctx), anonymous=True, label="no bearer")


def _attacker_session(ctx: CaseContext, real: Session) -> str:
    """Session-shaped claims signed with a key the target never saw."""
    key = ctx.keyring.attacker("ES256")
    claims = {"sub": real.user_id or real.subject, "sid": "forged", "exp": ctx.now() + 3600}
    return compact(header_for(key), claims, key=key)


_BEARERS: tuple[tuple[str, str, Callable[[CaseContext, Session], str]], ...] = (
    ("garbage", "a garbage string", lambda ctx, s: "not-a-session-token"),
    (
        "jwt_shaped",
        "a JWT-shaped string of garbage",
        lambda ctx, s: "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    ),
    (
        "tampered",
        "the real session token with a later exp (signature kept)",
        lambda ctx, s: rewrite_claims(ctx, s.token, exp=ctx.now() + 86400),
    ),
    (
        "alg_none",
        "the real session's claims re-issued unsigned (alg none)",
        lambda ctx, s: unsigned_copy(ctx, s.token),
    ),
    ("attacker_signed", "session claims signed with an unknown key", _attacker_session),
)


def _session_cases() -> list[Case]:
    rationale = (
        "The verify call elevates an existing session: without a valid bearer anyone "
        "holding a leaked assertion could mint an elevated token, and a forgeable session "
        "lets an attacker choose whose session is elevated."
    )
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": rationale,
        "severity": Severity.CRITICAL,
        "needs": ("sessions",),
        "profiles": DYNAMIC,
        "references": ("Dynamic docs: external auth step-up (bearer session required)",),
        "correct": "refuses it with a 401 and issues no token",
    }
    cases = [
        case(
            "envelope.session.missing",
            "No session bearer",
            run=_no_bearer,
            anchors=("A02",),
            **common,
        ),
    ]
    cases += [
        case(
            f"envelope.session.{name}",
            f"Session bearer is {what}",
            run=with_bearer(make),
            anchors=("A03",),
            **common,
        )
        for name, what, make in _BEARERS
    ]
    return cases


def _raw_body(
    build: Callable[[str], bytes], content_type: str | None = None
) -> Callable[[CaseContext], Exchange]:
    """A recipe that sends ``build(valid token)`` as the request body."""

    def run(ctx: CaseContext) -> Exchange:
        token = _valid_token(ctx)
        options: RequestOptions = {"raw_body": build(token)}
        if content_type is not None:
            options["content_type"] = content_type
        return ctx.send(token, **options)

    return run


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


#: (id suffix, title, body builder, content type, rows)
_BODIES: tuple[tuple[str, str, Callable[[str], bytes], str | None, tuple[str, ...]], ...] = (
    ("jwt_missing", "Body without a jwt member", lambda t: _json({"token": t}), None, ("A04",)),
    ("jwt_null", "jwt is null", lambda t: _json({"jwt": None}), None, ("A04",)),
    ("jwt_empty", "jwt is an empty string", lambda t: _json({"jwt": ""}), None, ("A04",)),
    ("jwt_number", "jwt is a number", lambda t: _json({"jwt": 12345}), None, ("A04",)),
    ("jwt_true", "jwt is true", lambda t: _json({"jwt": True}), None, ("A04",)),
    (
        "jwt_array",
        "jwt is an array holding a valid assertion",
        lambda t: _json({"jwt": [t]}),
        None,
        ("A04",),
    ),
    (
        "jwt_object",
        "jwt is an object holding a valid assertion",
        lambda t: _json({"jwt": {"jwt": t}}),
        None,
        ("A04",),
    ),
    (
        "not_object",
        "Body is a JSON array holding a valid assertion",
        lambda t: _json([t]),
        None,
        ("A04", "A05"),
    ),
    ("json_string", "Body is a bare JSON string", lambda t: _json(t), None, ("A04", "A05")),
    (
        "form_encoded",
        "Body is form-encoded jwt=<assertion>",
        lambda t: f"jwt={t}".encode(),
        "application/x-www-form-urlencoded",
        ("A05",),
    ),
    (
        "text_plain",
        "Body is the bare assertion as text/plain",
        lambda t: t.encode(),
        "text/plain",
        ("A05",),
    ),
    ("truncated_json", "Body is truncated JSON", lambda t: _json({"jwt": t})[:-2], None, ("A05",)),
    ("empty", "Empty body", lambda t: b"", None, ("A05",)),
    (
        "two_jwts_space",
        "Two assertions in jwt, space-joined",
        lambda t: _json({"jwt": f"{t} {t}"}),
        None,
        ("A07",),
    ),
    (
        "two_jwts_comma",
        "Two assertions in jwt, comma-joined",
        lambda t: _json({"jwt": f"{t},{t}"}),
        None,
        ("A07",),
    ),
)


def _body_cases() -> list[Case]:
    return [
        case(
            f"envelope.body.{name}",
            title,
            category=CATEGORY,
            run=_raw_body(build, content_type),
            rationale=(
                "The body is parsed before any token check: a parser that accepts the wrong "
                "shape (a list, two tokens, another encoding) is a parser differential, and one "
                "that crashes on it is a 5xx an attacker can trigger at will."
            ),
            correct="refuses it with a 400 (never a 5xx) and issues no token",
            severity=Severity.MEDIUM,
            anchors=rows,
            profiles=DYNAMIC,
            references=(
                "RFC7523 §2.1/§2.2 (a single JWT)",
                "jwt_tool -M er",
                "Wycheproof rejectsEmptyString",
            ),
        )
        for name, title, build, content_type, rows in _BODIES
    ]


def _oversized_token(size: int) -> Callable[[Any, CaseContext], Any]:
    return lambda a, ctx: a.with_claims(pad="A" * size)


def _oversized_body(ctx: CaseContext) -> Exchange:
    token = _valid_token(ctx)
    return ctx.send(token, raw_body=_json({"jwt": token, "pad": "A" * 1_048_576}))


def _size_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "rationale": (
            "Unbounded inputs let one request cost the server memory and CPU (signature "
            "hashing, JSON parsing); a fast 4xx or 413 is the safe answer."
        ),
        "correct": "refuses it quickly with a 4xx (400/413), never a 5xx",
        "level": Level.SHOULD,
        "severity": Severity.MEDIUM,
        "anchors": ("A08",),
        "references": ("8725bis §3.15 (size limits)",),
    }
    cases = [
        claims_case(
            f"envelope.size.token_{label}",
            f"Assertion of {label.upper()}",
            mutate=_oversized_token(size),
            **common,
        )
        for label, size in (("100kb", 100 * 1024), ("1mb", 1024 * 1024))
    ]
    cases.append(
        case(
            "envelope.size.body_1mb",
            "1 MB body around a valid assertion",
            run=_oversized_body,
            profiles=DYNAMIC,
            **common,
        )
    )
    return cases


def _to_environment(environment: Callable[[CaseContext], str]) -> Callable[[CaseContext], Exchange]:
    def run(ctx: CaseContext) -> Exchange:
        return ctx.send(_valid_token(ctx), environment_id=environment(ctx), label="other path")

    return run


def _unknown_uuid(ctx: CaseContext) -> str:
    return str(uuid.uuid4())


def _upper_case(ctx: CaseContext) -> str:
    value = str(ctx.settings.environment_id).upper()
    if value == ctx.settings.environment_id:
        ctx.skip("the environment id has no letters to change the case of")
    return value


_ENVIRONMENTS: tuple[tuple[str, str, Callable[[CaseContext], str]], ...] = (
    ("malformed", "environmentId is not a UUID", lambda ctx: "not-a-uuid"),
    (
        "uuid_suffix",
        "environmentId is the right UUID plus a character",
        lambda ctx: ctx.settings.environment_id + "0",
    ),
    ("upper_case", "environmentId in upper case", _upper_case),
    ("unknown", "environmentId is an unknown UUID", _unknown_uuid),
    (
        "other",
        "environmentId of another environment than the session's",
        lambda ctx: ctx.other_environment().environment_id,
    ),
)


def _environment_cases() -> list[Case]:
    cases = []
    for name, title, environment in _ENVIRONMENTS:
        needs = ["sessions"] + (["second_environment"] if name == "other" else [])
        rows = ("A06", "I03") if name == "other" else ("A06",)
        cases.append(
            case(
                f"envelope.environment.{name}",
                title,
                category=CATEGORY,
                run=_to_environment(environment),
                rationale=(
                    "The environment in the path selects the issuer, the keys and the users: a "
                    "session or an assertion of one environment must never elevate in another "
                    "(tenant confusion)."
                ),
                correct="refuses it with a 4xx (404 unknown environment, 401 foreign session)",
                severity=Severity.HIGH if name == "other" else Severity.MEDIUM,
                anchors=rows,
                needs=needs,
                profiles=DYNAMIC,
                references=("Dynamic API ref (environmentId: UUID, length 36)", "8725bis §2.6"),
            )
        )
    return cases


def _after_negative(ctx: CaseContext) -> Exchange:
    rejected = ctx.send(break_signature(_valid_token(ctx)), label="negative")
    if rejected.accepted:
        # the signature cases fail that (security); this interop case is about recovery
        # after a refusal, and no refusal happened
        ctx.skip("the broken signature was accepted, so there was no rejection to recover from")
    return ctx.valid(label="persistence")


def _baseline_cases() -> list[Case]:
    common: dict[str, Any] = {
        "category": CATEGORY,
        "expect": Expect.ACCEPT,
        "severity": Severity.HIGH,
        "anchors": ("A01",),
        "rationale": (
            "Every negative case means something only if a well-formed assertion with a valid "
            "session is accepted, before and after the negatives (jwt_tool's persistence check)."
        ),
        "references": (
            "Dynamic docs: external auth step-up (a valid assertion gets a token)",
            "RFC 7523 §3",
            "OIDF DPoP negative test (final positive control)",
            "jwt_tool prescan",
        ),
    }
    return [
        case(
            "envelope.valid.baseline",
            "A well-formed assertion is accepted",
            run=lambda ctx: ctx.valid(label="baseline"),
            **common,
        ),
        case(
            "envelope.valid.after_negative",
            "A valid assertion still works right after a rejected one",
            run=_after_negative,
            **common,
        ),
    ]


CASES: tuple[Case, ...] = (
    *_baseline_cases(),
    *_session_cases(),
    *_body_cases(),
    *_size_cases(),
    *_environment_cases(),
)

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
