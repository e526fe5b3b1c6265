"""Cases of the ``encoding`` category: the compact serialisation (threat-catalog rows K01-K15).

Empty and mis-segmented tokens, JWE and JSON serialisations, base64url oddities (padding,
the standard alphabet, whitespace, invalid characters, non-canonical trailing bits),
text encodings other than UTF-8, JSON that is not an object or not JSON, legal JSON
whitespace, resource-hungry JSON, wrapped tokens and escaped member names. Every token
is correctly signed over exactly the bytes it carries unless the case says otherwise, so
the encoding is the only fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .. import forge
from ..forge import (
    compact,
    encode_json,
    json_in,
    json_serialization,
    jwe_shaped,
    noncanonical,
    overlong_utf8,
    pad_segment,
    standard_alphabet,
    standard_header,
)
from .authoring import (
    Build,
    Case,
    CaseContext,
    Expect,
    Level,
    Severity,
    claims_with,
    signed,
    token_case,
)

__all__ = ["CASES", "CATEGORY", "NOT_APPLICABLE"]

CATEGORY = "encoding"
_STRICT = ("RFC 7519 §7.2", "RFC 8725bis §3.14")


def _raw(header: bytes | None = None, payload: bytes | None = None) -> Build:
    """A token signed by the trusted key over exactly these header/payload bytes."""

    def build(ctx: CaseContext) -> str:
        head = header if header is not None else encode_json(standard_header(ctx.key))
        body = payload if payload is not None else encode_json(claims_with(ctx))
        return compact(head, body, key=ctx.key.private_key, alg=ctx.key.alg)

    return build


def _payload_bytes(make: Callable[[dict[str, Any]], bytes]) -> Build:
    """A token whose payload bytes are ``make(valid claims)``."""

    def build(ctx: CaseContext) -> str:
        return _raw(payload=make(claims_with(ctx)))(ctx)

    return build


def _header_bytes(make: Callable[[dict[str, Any]], bytes]) -> Build:
    """A token whose header bytes are ``make(standard header)``."""

    def build(ctx: CaseContext) -> str:
        return _raw(header=make(standard_header(ctx.key)))(ctx)

    return build


def _on_token(change: Callable[[str], str]) -> Build:
    return lambda ctx: change(signed(ctx))


def _forge_fn(name: str, *args: Any, **kwargs: Any) -> Callable[[str], str]:
    def apply(token: str) -> str:
        function: Callable[..., str] = getattr(forge, name)
        return function(token, *args, **kwargs)

    return apply


def _until(ctx: CaseContext, ok: Callable[[str], bool], *, index: int) -> str:
    """A fresh valid token whose segment ``index`` satisfies ``ok`` (a filler claim or
    header member of growing length changes the segment until it does)."""
    for n in range(64):
        # "~" is 0x7E: as the third byte of a base64 block it encodes to "-" or "_"
        filler = "~" * (n + 1)
        token = (
            signed(ctx, x=filler)
            if index == 0
            else signed(ctx, payload={**claims_with(ctx), "x": filler})
        )
        if ok(token.split(".")[index]):
            return token
    ctx.skip(f"no token with the wanted shape of segment {index} in 64 tries")
    raise AssertionError("unreachable")


def _std_alphabet(index: int) -> Build:
    def build(ctx: CaseContext) -> str:
        token = _until(ctx, lambda seg: "-" in seg or "_" in seg, index=index)
        return standard_alphabet(token, index)

    return build


def _noncanonical(index: int) -> Build:
    def build(ctx: CaseContext) -> str:
        return noncanonical(_until(ctx, lambda seg: len(seg) % 4 != 0, index=index), index)

    return build


def _padded(index: int) -> Build:
    def build(ctx: CaseContext) -> str:
        return pad_segment(_until(ctx, lambda seg: len(seg) % 4 != 0, index=index), index)

    return build


def _json_in(encoding: str, *, bom: bool = False, part: str = "payload") -> Build:
    def make(value: dict[str, Any]) -> bytes:
        return json_in(value, encoding, bom=bom)

    return _payload_bytes(make) if part == "payload" else _header_bytes(make)


def _invalid_utf8(value: dict[str, Any]) -> bytes:
    return encode_json({**value, "note": "@"}).replace(b'"@"', b'"\xff\xfe"')


def _overlong_sub(value: dict[str, Any]) -> bytes:
    raw, first = encode_json(value), str(value["sub"])[0]
    marker = b'"sub":"' + first.encode()
    return raw.replace(marker, b'"sub":"' + overlong_utf8(first), 1)


def _json_text(text: str | bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda _value: text if isinstance(text, bytes) else text.encode("utf-8")


def _suffixed(suffix: bytes) -> Callable[[dict[str, Any]], bytes]:
    def make(value: dict[str, Any]) -> bytes:
        return encode_json(value) + suffix

    return make


def _pretty(value: dict[str, Any]) -> bytes:
    return json.dumps(value, indent="\t", separators=(" ,\n", " : ")).encode("utf-8")


def _escaped_name(name: str) -> Callable[[dict[str, Any]], bytes]:
    """Compact JSON with the member ``name`` written with its first letter as ``\\uXXXX``."""

    def make(value: dict[str, Any]) -> bytes:
        escaped = f'"\\u{ord(name[0]):04x}{name[1:]}"'.encode("ascii")
        return encode_json(value).replace(f'"{name}"'.encode(), escaped, 1)

    return make


def _with_claim(**extra: Any) -> Callable[[dict[str, Any]], bytes]:
    def make(value: dict[str, Any]) -> bytes:
        return encode_json({**value, **extra})

    return make


def _deep_array(depth: int) -> Callable[[dict[str, Any]], bytes]:
    def make(value: dict[str, Any]) -> bytes:
        body = encode_json(value)
        return body[:-1] + b',"deep":' + b"[" * depth + b"]" * depth + b"}"

    return make


def _huge_int(name: str, digits: int) -> Callable[[dict[str, Any]], bytes]:
    def make(value: dict[str, Any]) -> bytes:
        rest = {k: v for k, v in value.items() if k != name}
        return encode_json(rest)[:-1] + f',"{name}":{"9" * digits}}}'.encode()

    return make


# --- the variant tables ------------------------------------------------------------------

# (id suffix, title, build, row)
_MALFORMED: tuple[tuple[str, str, Build, str], ...] = (
    ("empty", "An empty string", lambda ctx: "", "K01"),
    ("segments.one", "Only the header segment", _on_token(_forge_fn("with_segments", 1)), "K02"),
    ("segments.two", "header.payload without a signature segment",
     _on_token(_forge_fn("with_segments", 2)), "K02"),
    ("segments.no_header", "An empty header segment", _on_token(lambda t: "." + t.split(".", 1)[1]),
     "K02"),
    ("segments.no_payload", "An empty payload segment",
     _on_token(lambda t: t.split(".")[0] + ".." + t.split(".")[2]), "K02"),
    ("segments.dots_only", 'Only the separators ".."', lambda ctx: "..", "K02"),
    ("segments.comma_separator", "Commas instead of dots between segments",
     _on_token(lambda t: t.replace(".", ",")), "K02"),
    ("segments.four", "Four segments (the signature repeated)",
     _on_token(_forge_fn("with_segments", 4)), "K03"),
    ("segments.trailing_empty", "A trailing empty fourth segment",
     _on_token(_forge_fn("trailing_empty_segment")), "K03"),
    ("jwe.five_segments", "A 5-segment JWE compact token", lambda ctx: _jwe(ctx, kid=False), "K04"),
    ("jwe.with_trusted_kid", "A 5-segment JWE naming the trusted kid",
     lambda ctx: _jwe(ctx, kid=True), "K04"),
    ("json_serialization.flattened", "The JWS JSON serialisation (flattened) as the token",
     _on_token(lambda t: _json_serial(t, flattened=True)), "K05"),
    ("json_serialization.general", "The JWS JSON serialisation (general) as the token",
     _on_token(lambda t: _json_serial(t, flattened=False)), "K05"),
    ("base64.padding_header", "= padding on the header segment", _padded(0), "K06"),
    ("base64.padding_payload", "= padding on the payload segment", _padded(1), "K06"),
    ("base64.padding_signature", "= padding on the signature segment", _padded(2), "K06"),
    ("base64.standard_alphabet_payload", "The payload in the standard base64 alphabet (+ /)",
     _std_alphabet(1), "K07"),
    ("base64.standard_alphabet_signature", "The signature in the standard base64 alphabet (+ /)",
     _std_alphabet(2), "K07"),
    ("whitespace.space_in_payload", "A space inside the payload segment",
     _on_token(_forge_fn("insert_text", 1, " ")), "K08"),
    ("whitespace.newline_between_segments", "A newline after the first dot",
     _on_token(_forge_fn("insert_text", 1, "\n", at=0)), "K08"),
    ("whitespace.tab_in_signature", "A tab inside the signature segment",
     _on_token(_forge_fn("insert_text", 2, "\t")), "K08"),
    ("whitespace.leading_space", "A leading space before the token", _on_token(lambda t: " " + t),
     "K08"),
    ("whitespace.trailing_newline", "A trailing newline after the token",
     _on_token(lambda t: t + "\n"), "K08"),
    ("invalid_char.question_mark", "A '?' inside the signature segment",
     _on_token(_forge_fn("insert_text", 2, "?")), "K08"),
    ("invalid_char.hash", "A '#' inside the header segment",
     _on_token(_forge_fn("insert_text", 0, "#")), "K08"),
    ("noncanonical.header", "Non-canonical base64url (unused bits set) in the header",
     _noncanonical(0), "K09"),
    ("noncanonical.payload", "Non-canonical base64url (unused bits set) in the payload",
     _noncanonical(1), "K09"),
    ("noncanonical.signature", "Non-canonical base64url (unused bits set) in the signature",
     _noncanonical(2), "K09"),
    ("text.payload_utf16le", "The payload JSON in UTF-16LE", _json_in("utf-16-le"), "K10"),
    ("text.payload_utf16_bom", "The payload JSON in UTF-16 with a BOM", _json_in("utf-16"), "K10"),
    ("text.payload_utf32", "The payload JSON in UTF-32", _json_in("utf-32"), "K10"),
    ("text.header_utf16le", "The header JSON in UTF-16LE", _json_in("utf-16-le", part="header"),
     "K10"),
    ("text.invalid_utf8", "Invalid UTF-8 bytes inside a payload string",
     _payload_bytes(_invalid_utf8), "K10"),
    ("text.overlong_utf8_sub", "An overlong UTF-8 encoding of the sub's first letter",
     _payload_bytes(_overlong_sub), "K10"),
    ("json.header_array", "The header is a JSON array", _header_bytes(_json_text('["ES256"]')),
     "K11"),
    ("json.header_string", "The header is a JSON string", _header_bytes(_json_text('"ES256"')),
     "K11"),
    ("json.header_number", "The header is a JSON number", _header_bytes(_json_text("256")), "K11"),
    ("json.header_truncated", "The header is truncated JSON",
     _header_bytes(lambda h: _suffixed(b"")(h)[:-1]), "K11"),
    ("json.header_trailing_garbage", "The header JSON followed by garbage",
     _header_bytes(_suffixed(b"xyz")), "K11"),
    ("json.header_utf8_bom", "The header JSON with a UTF-8 BOM",
     _json_in("utf-8", bom=True, part="header"), "K11"),
    ("json.payload_trailing_garbage", "The payload JSON followed by a second object",
     _payload_bytes(_suffixed(b'{"sub":"x"}')), "K11"),
    ("json.payload_nan", "A NaN literal in the payload",
     _payload_bytes(lambda v: _suffixed(b"")(v)[:-1] + b',"x":NaN}'), "K11"),
)  # fmt: skip


def _jwe(ctx: CaseContext, *, kid: bool) -> str:
    header: dict[str, Any] = {"alg": "RSA-OAEP", "enc": "A256GCM"}
    if kid:
        header["kid"] = ctx.key.kid
    return jwe_shaped(header)


def _json_serial(token: str, *, flattened: bool) -> str:
    return json_serialization(token, flattened=flattened)


_WHY = {
    "K01": "An empty token must be a clean 4xx, not an exception.",
    "K02": "A token without all three parts has nothing to verify; lenient splitters "
    "invent the missing part.",
    "K03": "Extra segments hide data a second parser may read (RFC 8725bis §3.14).",
    "K04": "A JWE where a JWS belongs is the encryption/signature confusion of CVE-2023-51774.",
    "K05": "The JSON serialisation carries other parts (unprotected headers, several "
    "signatures) the compact form rules out; only [A-Za-z0-9-_.] belongs in the token.",
    "K06": "base64url in JWS has no padding; accepting it means a second spelling of the "
    "same token (a replay-cache and log bypass).",
    "K07": "The standard alphabet is another spelling of the same bytes: parser "
    "differentials and cache bypasses.",
    "K08": "Whitespace and stray characters are dropped by lenient decoders: another "
    "spelling of the same token.",
    "K09": "Unused trailing bits give several encodings of the same bytes; a strict "
    "decoder and a lenient one then disagree on what was signed.",
    "K10": "Non-UTF-8 JSON is decoded differently by different parsers (RFC 8725bis §3.7); "
    "naive code crashes on it (a 5xx).",
    "K11": "The header and claims must be JSON objects; anything else must be a clean 4xx, "
    "never an exception.",
}
_REFS = {
    "K01": ("RFC 7515 §7.1", "Wycheproof rejectsEmptyString"),
    "K02": ("RFC 7515 §7.1", "Wycheproof rejectsMissing*"),
    "K03": (
        "RFC 7515 §7.1",
        "Wycheproof rejectsExtraComponent",
        "Wycheproof rejectsExtraEmptyComponent",
    ),
    "K04": ("RFC 8725bis §3.3", "CVE-2023-51774"),
    "K05": ("Wycheproof rejectsValidJsonSerialization", "RFC 8725bis §2.12"),
    "K06": ("Wycheproof invalidBase64Padding", *_STRICT),
    "K07": _STRICT,
    "K08": ("Wycheproof spacesIn*", "Wycheproof invalidCharacters*", *_STRICT),
    "K09": ("Wycheproof ModifiedUnusedBitsInPayload",),
    "K10": ("RFC 8725bis §3.7", "RFC 7519 §7.2 step 4"),
    "K11": ("RFC 7519 §7.2 step 4",),
}


#: Lenient decoding of a token the trusted key signed (padding, another alphabet,
#: whitespace, unused bits, UTF-16/32, a BOM, NaN, trailing JSON): most JOSE libraries
#: accept some of these and no attacker gains a token by it (the signing input is the
#: bytes sent), so refusing them is hardening: should (docs/levels.md). What a second
#: spelling of a token could buy, a replay guard keyed on its text, replay.same_jti.
#: malleated judges. The lenient_base64url and lenient_json policy variants show it.
_LENIENT_ROWS = frozenset({"K06", "K07", "K08", "K09", "K10"})
_LENIENT_JSON = frozenset(
    {
        "json.header_utf8_bom",
        "json.payload_nan",
        "json.header_trailing_garbage",
        "json.payload_trailing_garbage",
    }
)


def _malformed_cases() -> list[Case]:
    return [
        token_case(
            f"encoding.{name}",
            f"{title}: refused",
            category=CATEGORY,
            build=build,
            level=Level.SHOULD if row in _LENIENT_ROWS or name in _LENIENT_JSON else Level.MUST,
            severity=Severity.MEDIUM,
            rationale=_WHY[row],
            references=_REFS[row],
            anchors=(row,),
        )
        for name, title, build, row in _MALFORMED
    ]


def _other_cases() -> list[Case]:
    out = [
        token_case(
            f"encoding.json_whitespace.{part}",
            f"Legal JSON whitespace and newlines in the {part} JSON: accepted",
            category=CATEGORY,
            build=_header_bytes(_pretty) if part == "header" else _payload_bytes(_pretty),
            expect=Expect.ACCEPT,
            severity=Severity.LOW,
            rationale="Whitespace between JSON tokens is legal JSON; signers may produce it.",
            references=("RFC 8259 §2", "Wycheproof ValidSpacesInJsonHeader"),
            anchors=("K12",),
        )
        for part in ("header", "payload")
    ]
    heavy: tuple[tuple[str, str, Build], ...] = (
        ("deep_array", "an unknown claim nested 3000 arrays deep",
         _payload_bytes(_deep_array(3000))),
        ("huge_integer", "an unknown claim that is a 5000-digit integer",
         _payload_bytes(_huge_int("big", 5000))),
        ("long_string", "an unknown 12 KB string claim",
         _payload_bytes(_with_claim(pad="A" * 12_288))),
    )  # fmt: skip
    out += [
        token_case(
            f"encoding.heavy_json.{name}",
            f"A valid assertion with {what} (either answer, never a 5xx)",
            category=CATEGORY,
            build=build,
            expect=Expect.EITHER,
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale=(
                "Deep nesting exhausts recursive parsers and huge integers hit conversion "
                "limits (Python refuses over 4300 digits): the answer may be either, but an "
                "unhandled exception is a 5xx and a denial of service."
            ),
            references=("jwt_tool -M er",),
            anchors=("K13",),
        )
        for name, what, build in heavy
    ]
    out.append(
        token_case(
            "encoding.heavy_json.exp_5000_digits",
            "exp as a 5000-digit integer is refused (never a 5xx)",
            category=CATEGORY,
            build=_payload_bytes(_huge_int("exp", 5000)),
            level=Level.SHOULD,
            severity=Severity.MEDIUM,
            rationale="A number past every limit must be refused cleanly, not crash the parser.",
            references=("jwt_tool -M er",),
            anchors=("K13",),
        )
    )
    wrapped: tuple[tuple[str, str, Callable[[str], str]], ...] = (
        ("quoted", "wrapped in double quotes", lambda t: f'"{t}"'),
        ("bearer_prefix", 'prefixed "Bearer "', lambda t: f"Bearer {t}"),
        ("url_encoded", "with its dots URL-encoded (%2E)", lambda t: t.replace(".", "%2E")),
    )
    out += [
        token_case(
            f"encoding.wrapped.{name}",
            f"The token {what}: refused",
            category=CATEGORY,
            build=_on_token(change),
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "Unwrapping guesses are parser differentials: the endpoint should take the "
                "token exactly as the profile sends it."
            ),
            references=("RFC 8725bis §3.14",),
            anchors=("K14",),
        )
        for name, what, change in wrapped
    ]
    escaped: tuple[tuple[str, str, Build], ...] = (
        ("claim_name_sub", 'the claim name "sub" written as "\\u0073ub"',
         _payload_bytes(_escaped_name("sub"))),
        ("claim_name_scope", 'the claim name "scope" written as "\\u0073cope"',
         _payload_bytes(_escaped_name("scope"))),
        ("header_name_alg", 'the header name "alg" written as "\\u0061lg"',
         _header_bytes(_escaped_name("alg"))),
    )  # fmt: skip
    out += [
        token_case(
            f"encoding.escaped_names.{name}",
            f"A valid assertion with {what}: accepted (parsed as the plain name)",
            category=CATEGORY,
            build=build,
            expect=Expect.ACCEPT,
            level=Level.SHOULD,
            severity=Severity.LOW,
            rationale=(
                "JSON escapes name the same member; a component that compares raw bytes "
                "(a WAF, a log filter, a second parser) sees a different claim set than the "
                "verifier."
            ),
            references=("RFC 7519 §7.3", "RFC 8259 §7"),
            anchors=("K15",),
        )
        for name, what, build in escaped
    ]
    return out


CASES: tuple[Case, ...] = (*_malformed_cases(), *_other_cases())

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
