"""Keep secrets out of evidence: cut JWT signatures, redact bearers, bound bodies.

Every string that leaves the run (results.json, JUnit, failure messages, logs) passes
through here. A JWT is shown decoded with its signature cut: readable, but unusable.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any

from ._jose import b64url_decode

BODY_LIMIT = 4096
# A JOSE header is a JSON object, and base64url of "{" is "e" followed by one of w-z, 0-9,
# "-" or "_" (the second character carries the low bits of "{"): a dotted name such as a
# case id ("header.jku.attacker_url", "envelope.session.missing") never starts one.
_JWT_RE = re.compile(r"(e[w-z0-9_\-][A-Za-z0-9_\-]{2,})\.([A-Za-z0-9_\-]*)\.([A-Za-z0-9_\-]{8,})")
_SECRET_HEADERS = frozenset(
    {"authorization", "x-dyn-elevated-access-token", "cookie", "set-cookie", "proxy-authorization"}
)
# Control characters other than tab/newline confuse terminals and reports (ANSI escapes).
# Also the code points XML cannot carry (U+FFFE, U+FFFF, lone surrogates): junit.xml must
# stay well-formed whatever the target sent.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def remember_secret(value: str) -> None:
    """Never show ``value`` (an opaque session or access token) in any evidence."""
    if len(value) >= 8:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def _redact_secrets(text: str) -> str:
    with _SECRETS_LOCK:
        known = [s for s in _SECRETS if s in text]
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, f"[redacted: {len(secret)} chars]")
    return text


def cut_signature(token: str) -> str:
    """``header.payload.[signature cut: N chars]`` for anything shaped like a JWS."""
    parts = token.split(".")
    if len(parts) < 3 or not parts[-1]:
        return token
    return ".".join(parts[:-1]) + f".[signature cut: {len(parts[-1])} chars]"


def cut_signatures(text: str) -> str:
    """Every compact JWS in ``text`` with its signature cut (header and payload kept)."""
    return _JWT_RE.sub(lambda m: f"{m[1]}.{m[2]}.[signature cut: {len(m[3])} chars]", text)


def scrub(text: str, *, limit: int = BODY_LIMIT) -> str:
    """Cut every JWT signature in ``text``, neutralise control characters, bound it."""
    text = _redact_secrets(text)
    text = cut_signatures(text)
    text = _CONTROL_RE.sub(
        lambda m: f"\\u{ord(m[0]):04x}" if ord(m[0]) > 0xFF else f"\\x{ord(m[0]):02x}", text
    )
    if len(text) > limit:
        text = text[:limit] + f"…[truncated {len(text) - limit} chars]"
    return text


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header values that carry credentials become a short, unusable preview."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in _SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            shown = f"{scheme} " if rest else ""
            out[lower] = f"{shown}[redacted]"
        else:
            out[lower] = scrub(value, limit=512)
    return out


def decode_token(token: str | None, *, secret: bool = False) -> dict[str, Any] | None:
    """A token as evidence: decoded header and claims, signature cut; else a preview —
    or, for a ``secret`` (an issued token) or a remembered one, only its length."""
    if token is None:
        return None
    with _SECRETS_LOCK:
        secret = secret or token in _SECRETS
    parts = token.split(".")
    if len(parts) == 3:
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass  # deeply nested or broken JSON: shown as a preview instead
        else:
            return {
                "header": _jsonable(header),
                "claims": _jsonable(claims),
                "signature": f"[cut: {len(parts[2])} chars]",
            }
    if secret:
        return {"opaque": f"[redacted: {len(token)} chars]"}
    return {"raw_preview": scrub(token[:120], limit=120) + ("…" if len(token) > 120 else "")}


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Bound decoded JSON so a hostile 10 MB claim or deep nesting cannot bloat the results."""
    if depth > 8 and isinstance(value, dict | list):
        return "[nested too deep]"
    if isinstance(value, str):
        return scrub(value, limit=512)
    if isinstance(value, dict):
        items = list(value.items())[:64]
        return {scrub(str(k), limit=128): _jsonable(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        return [_jsonable(v, depth + 1) for v in value[:64]]
    return value
