"""Resource exhaustion before authentication (issue 14, class 8): hostile structure gets a
fast 4xx, never a 5xx or a stall.

Everything here must be refused, and needs no credential: the structure is wrong, or the
token is signed by an attacker key under the trusted ``kid`` (its header and payload are
parsed before the signature fails), so an unauthenticated caller can send it at will: a parser
that splits quadratically on dots, recurses into a deep header or converts a
20 000-digit number turns one request into seconds of CPU. ``encoding.heavy_json.*``
judges that a valid assertion carrying heavy JSON gets no 5xx; these cases add a
**latency oracle**: the refusal must come within :data:`STALL_S` (or ten times the
target's own answer to a valid assertion, whichever is larger).

Bounds on what the suite sends: every token is at most :data:`MAX_TOKEN_CHARS` characters
(under the 64 KB body limits common in front of token endpoints), one request per case
plus one valid assertion for the baseline. ``should`` throughout (RFC 8725bis §3.15 and
the threat catalog's K13/A08 are advisory).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .._jose import encode_json
from ..forge import b64url_encode, compact, standard_header
from .authoring import Case, CaseContext, Level, Severity, case, claims_with

__all__ = ["CASES", "MAX_TOKEN_CHARS", "NOT_APPLICABLE", "STALL_S", "allowed_latency_ms"]

#: A refusal slower than this (and than 10x the target's answer to a valid assertion) is
#: a stall: no parser needs seconds to refuse 40 KB.
STALL_S = 2.0
#: How much slower than a valid assertion's answer a refusal may be before the floor.
SLOWER_THAN_BASELINE = 10.0
#: The largest token any case here sends (characters).
MAX_TOKEN_CHARS = 48 * 1024

Build = Callable[[CaseContext], str]


def _signed(header: bytes | None = None, payload: bytes | None = None) -> Build:
    """A token over these bytes under the trusted key's header, signed by an attacker key:
    unauthenticated, yet its header and payload are parsed before the signature fails (a
    validly signed heavy token may be accepted: ``encoding.heavy_json.*`` judge those)."""

    def build(ctx: CaseContext) -> str:
        head = header if header is not None else encode_json(standard_header(ctx.key))
        body = payload if payload is not None else encode_json(claims_with(ctx))
        attacker = ctx.keyring.attacker(ctx.key.alg)
        return compact(head, body, key=attacker.private_key, alg=ctx.key.alg)

    return build


def _header_with(raw_member: str) -> Build:
    """An attacker-signed token whose header carries one extra member, written raw."""

    def build(ctx: CaseContext) -> str:
        head = encode_json(standard_header(ctx.key))[:-1] + f",{raw_member}}}".encode()
        return _signed(header=head)(ctx)

    return build


def _payload_with(raw_member: str) -> Build:
    def build(ctx: CaseContext) -> str:
        body = encode_json(claims_with(ctx))[:-1] + f",{raw_member}}}".encode()
        return _signed(payload=body)(ctx)

    return build


def _many_dots(ctx: CaseContext) -> str:
    return ctx.sign(ctx.assertion()) + "." * 20_000


def _only_dots(ctx: CaseContext) -> str:
    return "." * 30_000


def _oversized_signature(ctx: CaseContext) -> str:
    head, body, _ = ctx.sign(ctx.assertion()).split(".")
    return f"{head}.{body}.{b64url_encode(bytes(30_000))}"


def _many_members(ctx: CaseContext) -> str:
    claims = claims_with(ctx)
    claims.update({f"m{i}": i for i in range(2_000)})
    return _signed(payload=encode_json(claims))(ctx)


#: (name, title, build, anchors)
_HOSTILE: tuple[tuple[str, str, Build, tuple[str, ...]], ...] = (
    ("many_dots", "a valid token followed by 20 000 dots", _many_dots, ("K13", "A08")),
    ("only_dots", "30 000 dots and nothing else", _only_dots, ("K13", "A08")),
    (
        "oversized_signature",
        "a 40 KB signature segment (30 000 bytes)",
        _oversized_signature,
        ("K13", "A08"),
    ),
    (
        "deep_header",
        "a header member nested 4000 arrays deep",
        _header_with('"x":' + "[" * 4_000 + "]" * 4_000),
        ("K13",),
    ),
    (
        "deep_object_payload",
        "a claim nested 1500 objects deep",
        _payload_with('"x":' + '{"a":' * 1_500 + "1" + "}" * 1_500),
        ("K13",),
    ),
    (
        "huge_number_header",
        "a header member that is a 20 000-digit number",
        _header_with('"x":' + "9" * 20_000),
        ("K13",),
    ),
    (
        "huge_exponent",
        "nbf written as 1e999999999",
        _payload_with('"nbf":1e999999999'),
        ("K13",),
    ),
    ("many_members", "a payload with 2000 claims", _many_members, ("K13",)),
)


def allowed_latency_ms(baseline_ms: float) -> float:
    """How long a refusal may take, given the target's answer to a valid assertion."""
    return max(STALL_S * 1000, SLOWER_THAN_BASELINE * baseline_ms)


def _fast_refusal(build: Build) -> Callable[[CaseContext], None]:
    def run(ctx: CaseContext) -> None:
        token = build(ctx)
        if len(token) > MAX_TOKEN_CHARS:  # a bound on what the suite sends, by construction
            ctx.error(f"the case built {len(token)} characters, over {MAX_TOKEN_CHARS}")
        baseline = ctx.valid(label="baseline")
        ctx.check(ctx.accepted(baseline), "a valid assertion was not accepted (the baseline)")
        allowed_ms = allowed_latency_ms(baseline.latency_ms)
        hostile = ctx.send(token, label="hostile")
        if hostile.status is None:
            stalled = "timed out" in (hostile.error or "") or "timeout" in (hostile.error or "")
            if stalled:
                ctx.fail(f"no answer within the transport timeout ({hostile.error}): a stall")
            ctx.error(f"no answer ({hostile.error}): the connection failed, nothing is proved")
        status = hostile.status or 0
        ctx.check(status < 500, f"answered {status}: a server error on unauthenticated input")
        ctx.check(not hostile.accepted, "accepted it and issued a token")
        if not hostile.rejected:
            ctx.error(f"answered {status}: neither a refusal nor a token, nothing is proved")
        ctx.fact(
            "exhaustion_worst_latency_ms",
            round(hostile.latency_ms),
            "the last hostile structure's refusal time (encoding.exhaustion.*)",
        )
        ctx.check(
            hostile.latency_ms <= allowed_ms,
            f"the refusal took {hostile.latency_ms:.0f} ms (a valid assertion: "
            f"{baseline.latency_ms:.0f} ms; allowed {allowed_ms:.0f} ms): a stall an "
            "unauthenticated caller can repeat",
        )

    return run


def _cases() -> list[Case]:
    return [
        case(
            f"encoding.exhaustion.{name}",
            f"Before authentication, {title}: a fast 4xx",
            category="encoding",
            run=_fast_refusal(build),
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            anchors=anchors,
            control=False,
            rationale="The structure is refused before any key is involved, so anyone can "
            "send it: a parser that recurses, splits quadratically or converts huge numbers "
            "spends seconds per request, a denial of service that needs no credential.",
            correct=f"refuses it with a 4xx within {STALL_S:.0f} s (or 10x its answer to a "
            "valid assertion), never a 5xx",
            references=(
                "RFC8725bis §3.15 (size limits)",
                "CWE-400",
                "CWE-407",
                "CWE-674",
            ),
        )
        for name, title, build, anchors in _HOSTILE
    ]


CASES: tuple[Case, ...] = tuple(_cases())

#: threat-catalog rows of this module that cannot be tested here, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
