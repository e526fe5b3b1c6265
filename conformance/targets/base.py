"""The target interface and the evidence of one exchange.

A :class:`Target` is what the suite talks to. Its integration seam is one method,
:meth:`Target.exchange`: send one assertion, get an :class:`Exchange` back. Sessions,
sensitive operations and clock readings are optional capabilities; a target that lacks
one returns ``None`` / raises ``NotImplementedError`` and the cases that need it skip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: Bodies kept as evidence are cut to this many characters.
BODY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user of the target: the bearer the verify call needs."""

    subject: str
    token: str = field(repr=False)
    user_id: str | None = None
    environment_id: str | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response, kept as evidence.

    ``issued_token`` holds the raw token the target issued (for follow-up use in the same
    case); it is never serialised whole, see :mod:`conformance._redact`.
    ``error`` is set when no HTTP answer was obtained (timeout, reset, refused).
    """

    label: str
    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: str
    status: int | None
    response_headers: Mapping[str, str]
    response_body: str
    latency_ms: float
    assertion: str | None = field(default=None, repr=False)
    issued_token: str | None = field(default=None, repr=False)
    error: str | None = None
    retries: int = 0
    server_date: float | None = None  # epoch seconds parsed from the Date header

    @property
    def accepted(self) -> bool:
        """A 2xx answer that carries an issued token."""
        return self.status is not None and 200 <= self.status < 300 and bool(self.issued_token)

    @property
    def rejected(self) -> bool:
        """A 4xx answer (a clean refusal). A 429 is not: a rate limit that outlasted the
        retries says nothing about the assertion."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429

    @property
    def misbehaved(self) -> bool:
        """No answer, a 5xx, or a 2xx without a token: the target erred."""
        return not self.accepted and not self.rejected

    def json(self) -> Any:
        """The response body parsed as JSON, or ``None``."""
        import json

        try:
            return json.loads(self.response_body)
        except ValueError:
            return None


@runtime_checkable
class Target(Protocol):
    """An exchange endpoint under test."""

    #: "dynamic" or "rfc7523"
    profile: str
    #: human description with secrets redacted (shown in reports)
    description: Mapping[str, Any]
    #: the target is on a loopback address (bursts allowed without opt-in)
    is_loopback: bool

    def exchange(
        self,
        assertion: str,
        *,
        session: Session | None = None,
        label: str = "exchange",
        raw_body: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        environment_id: str | None = None,
    ) -> Exchange:
        """Send ``assertion`` the way this profile does; ``raw_body`` overrides the body."""
        ...

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        """A session for ``subject``, or ``None`` when this target has no sessions."""
        ...

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange | None:
        """Use an issued token for the operation guarded by ``scope``; ``None`` if unsupported."""
        ...

    def logout(self, session: Session) -> Exchange | None:
        """End ``session`` at the target; ``None`` if unsupported."""
        ...

    def token_jwks(self) -> Mapping[str, Any] | None:
        """The public keys the target signs issued tokens with, when published."""
        ...

    def close(self) -> None: ...
