"""What the HTTP adapters share: turning a raw answer into evidence, and loopback checks."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._redact import (
    is_secret,
    redact_headers,
    redact_values,
    remember_assertion,
    remember_body_tokens,
    remember_target_secret,
    scrub,
)
from .base import Exchange

if TYPE_CHECKING:
    from .._transport import RawResponse


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in {"localhost", "::1"} or host.startswith("127.")


def recorded(
    *,
    label: str,
    method: str,
    url: str,
    request_headers: Mapping[str, str],
    request_body: str,
    status: int | None,
    response_headers: Mapping[str, str],
    response_body: str,
    latency_ms: float,
    assertion: str | None,
    issued: str | None,
    error: str | None = None,
    retries: int = 0,
    server_date: float | None = None,
    secrets: Sequence[str] = (),
    hidden: Sequence[str] = (),
) -> Exchange:
    """The :class:`Exchange` of one answer: every secret it involves remembered first
    (the assertion's signature, the issued token, bearers and cookies, the token members
    of a successful JSON answer), then the recorded fields scrubbed and bounded; the
    answer as sent is kept, unserialised, for the checks.

    What the target chose (the issued token, the token members of its answer, the
    ``secrets`` its adapter found) is remembered for the whole run only when it is shaped
    like a credential (``_redact.remember_target_secret``), but it is always redacted
    from this answer's own record: a word-like token is still no evidence to show.
    ``hidden``: more values the target chose, redacted in place from the whole record
    (request included) and never remembered: a bearer this request carried back to it
    (a session, an elevated token, in a URL, a header or a field), a token in an answer
    its adapter does not count as issued.
    """
    chosen = [*secrets, *hidden]
    if assertion:
        remember_assertion(assertion)
    if issued:
        remember_target_secret(issued)
        chosen.append(issued)
    if status is not None and 200 <= status < 300:
        # only a success issues credentials; a refusal may echo the assertion, which
        # stays evidence (its signature is already remembered)
        chosen += remember_body_tokens(response_body)
    for value in secrets:
        remember_target_secret(value)
    # the ones not remembered (not credential-shaped) are redacted here, in place; the
    # remembered ones by scrub (with their length)
    chosen = [value for value in chosen if not is_secret(value)]
    shown_request = {
        name: redact_values(value, chosen)
        for name, value in redact_headers(request_headers).items()
    }
    # remembers the Set-Cookie values that are shaped like credentials (never a word)
    shown_response = {
        name: redact_values(value, chosen)
        for name, value in redact_headers(response_headers).items()
    }
    return Exchange(
        label=scrub(label, limit=200),
        method=scrub(method, limit=20),
        url=scrub(redact_values(url, chosen), limit=2000),
        request_headers=shown_request,
        request_body=scrub(redact_values(request_body, chosen)),
        status=status,
        response_headers=shown_response,
        response_body=scrub(redact_values(response_body, chosen)),
        latency_ms=latency_ms,
        assertion=assertion,
        issued_token=issued,
        error=None if error is None else scrub(error, limit=500),
        retries=retries,
        server_date=server_date,
        # the answer has just arrived: the request left ``latency_ms`` ago
        sent_at=time.time() - latency_ms / 1000,
        raw_response_body=response_body,
        raw_response_headers=dict(response_headers),
        raw_request_body=request_body,
        raw_request_headers=dict(request_headers),
    )


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
    secrets: Sequence[str] = (),
    hidden: Sequence[str] = (),
) -> Exchange:
    """An :class:`Exchange` from a raw response: bodies bounded and scrubbed of secrets
    (``secrets``: more credentials the adapter found in the answer; ``hidden``: values
    the target chose, redacted in place only, see :func:`recorded`)."""
    return recorded(
        label=label,
        method=method,
        url=url,
        request_headers=headers,
        request_body=body.decode("utf-8", "replace"),
        status=raw.status,
        response_headers=raw.headers,
        response_body=raw.body.decode("utf-8", "replace"),
        latency_ms=raw.latency_ms,
        assertion=assertion,
        issued=issued,
        error=raw.error,
        retries=raw.retries,
        server_date=raw.server_date,
        secrets=secrets,
        hidden=hidden,
    )
