"""Turning untrusted values from results.json into safe, bounded, escaped text.

Everything the target sent reaches the report through :func:`esc` (HTML) or
:func:`plain` (matplotlib labels, diff text): control characters become visible
``\\xNN`` escapes, lone surrogates become U+FFFD, compact JWS signatures that slipped
past the writer are cut, and long values are truncated with a note.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .._redact import cut_signatures

#: Default bound for bodies and other long values shown in the report.
BODY_LIMIT = 2000
#: Bound for one-line values (ids, titles, header names, URLs).
SHORT_LIMIT = 300

# C0 (but tab and newline), DEL, C1, and the bidi overrides/isolates that can make text
# read differently from what it is ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def as_text(value: Any) -> str:
    """``value`` as text: strings unchanged, ``None`` empty, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def plain(value: Any, *, limit: int = BODY_LIMIT) -> str:
    """Bounded, printable text for ``value`` (not HTML-escaped).

    Truncation happens first so that a 10 MB body costs no more than a short one; the
    note says how many characters were dropped. ``limit`` must be positive
    (``ValueError`` otherwise).
    """
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    text = as_text(value)
    dropped = len(text) - limit
    if dropped > 0:
        text = text[:limit]
    text = _SURROGATE.sub("\ufffd", text).replace("\r\n", "\n")
    text = _CONTROL.sub(_visible, text)
    # The writer should have cut every signature already, but a report must never be the
    # place where a live token shows up whole: the writer's own function, again.
    text = cut_signatures(text)
    if dropped > 0:
        text += f"\n[truncated {dropped} chars]"
    return text


def esc(value: Any, *, limit: int = SHORT_LIMIT) -> str:
    """:func:`plain`, then HTML-escaped (quotes too, so it is safe inside attributes)."""
    return html.escape(plain(value, limit=limit), quote=True)


def slug(value: Any) -> str:
    """An HTML id made of ``[A-Za-z0-9._-]`` only, derived from ``value``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", plain(value, limit=120)).strip("-") or "x"
