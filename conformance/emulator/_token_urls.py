"""The out-of-band flaws' mechanics: the URLs a careless service finds in a token.

``token_urls_fetched`` dereferences every http(s) URL in the header and the claims
(a ``jku``, an ``x5u``, a ``kid`` such as ``| curl https://...``, members of an embedded
``jwk``, claim values); the clean emulator never looks at them. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_URL = re.compile(r"https?://[^\s\"'<>|]+")
#: At most this many URLs are fetched per token (a flaw, not an amplifier).
MAX_URLS = 8


def token_urls(*parts: Any) -> list[str]:
    """The distinct http(s) URLs in ``parts`` (JSON values, searched recursively), in
    order of appearance, at most :data:`MAX_URLS`."""
    seen: dict[str, None] = {}
    for text in _strings(parts, depth=0):
        for match in _URL.finditer(text):
            seen.setdefault(match.group(0), None)
    return list(seen)[:MAX_URLS]


def _strings(value: Any, *, depth: int) -> Iterator[str]:
    if depth > 8:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth=depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item, depth=depth + 1)
