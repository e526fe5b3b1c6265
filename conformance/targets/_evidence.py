"""What the HTTP adapters share: turning a raw answer into evidence, and loopback checks."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from .._redact import redact_headers, scrub
from .._transport import RawResponse
from .base import Exchange


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


def evidence(
    label: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    raw: RawResponse,
    *,
    assertion: str | None,
    issued: str | None,
) -> Exchange:
    """An :class:`Exchange` from a raw response: bodies bounded and scrubbed of secrets."""
    return Exchange(
        label=label,
        method=method,
        url=url,
        request_headers=redact_headers(headers),
        request_body=scrub(body.decode("utf-8", "replace")),
        status=raw.status,
        response_headers=redact_headers(raw.headers),
        response_body=scrub(raw.body.decode("utf-8", "replace")),
        latency_ms=raw.latency_ms,
        assertion=assertion,
        issued_token=issued,
        error=raw.error,
        retries=raw.retries,
        server_date=raw.server_date,
    )
