"""An in-memory target with scripted answers: engine and recipe tests without servers.

Like httpx's ``MockTransport``, a :class:`FakeTarget` hands each request to a function
you write and turns its :class:`Reply` into the :class:`Exchange` the engine judges::

    def handler(request: ExchangeRequest) -> Reply:
        return Reply(200, issued="tok") if request.label == "control" else Reply(401)

    target = FakeTarget(handler)

Every request the target received is kept in :attr:`FakeTarget.requests`, in order.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._evidence import recorded
from .base import TARGET_CAPABILITIES, Exchange, ExchangeRequest, Session, not_offered

__all__ = ["FakeTarget", "Handler", "Reply", "accept_all", "reject_all"]


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer: ``status`` ``None`` with ``error`` means no answer at all."""

    status: int | None
    body: str = ""
    issued: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    retries: int = 0
    server_date: float | None = None
    #: whom the answer says the token is for (``Exchange.subject``)
    subject: str | None = None


Handler = Callable[[ExchangeRequest], Reply]


def accept_all(request: ExchangeRequest) -> Reply:
    """A target that issues a token for anything (a wide-open validator)."""
    return Reply(200, body='{"token": "[issued]"}', issued="issued-token")


def reject_all(request: ExchangeRequest) -> Reply:
    """A target that refuses everything (also every positive control)."""
    return Reply(401, body='{"error": "invalid assertion"}')


class FakeTarget:
    """A :class:`~conformance.targets.base.Target` whose answers come from ``handler``.

    ``capabilities`` defaults to every optional call; sessions are made up in memory
    (``sign_in`` never fails), logout and the operation go through ``handler`` with the
    labels ``"logout"`` and the operation's label. Raises ``ValueError`` for an unknown
    capability name.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        profile: str = "dynamic",
        capabilities: Sequence[str] = tuple(sorted(TARGET_CAPABILITIES)),
        supplied_subjects: Sequence[str] = (),
        token_keys: Mapping[str, Any] | None = None,
    ) -> None:
        unknown = set(capabilities) - TARGET_CAPABILITIES
        if unknown:
            raise ValueError(f"unknown capabilities {sorted(unknown)}")
        self.handler = handler
        self.profile = profile
        self.capabilities = frozenset(capabilities)
        self.supplied_subjects = frozenset(supplied_subjects)
        self.is_loopback = True
        self.description: Mapping[str, Any] = {"profile": profile, "fake": True}
        self.last_sign_in: Exchange | None = None
        self.requests: list[ExchangeRequest] = []
        self.retries = 0
        self._token_keys = token_keys
        self._lock = threading.Lock()

    def _answer(self, request: ExchangeRequest, *, method: str = "POST") -> Exchange:
        with self._lock:
            self.requests.append(request)
        reply = self.handler(request)
        # The same evidence as the HTTP adapters': secrets remembered, then redacted.
        sent = dict(request.headers)
        if request.session is not None:
            sent["authorization"] = f"Bearer {request.session.token}"
        exchange = recorded(
            label=request.label,
            method=method,
            url=f"fake://{self.profile}/{request.label}",
            request_headers=sent,
            request_body="",
            status=reply.status,
            response_headers=reply.headers,
            response_body=reply.body,
            latency_ms=0.0,
            assertion=request.assertion,
            issued=reply.issued,
            error=reply.error,
            retries=reply.retries,
            server_date=reply.server_date,
        )
        if reply.subject is not None:
            exchange = dataclasses.replace(exchange, subject=reply.subject)
        return exchange

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise not_offered(self, capability)

    def exchange(self, request: ExchangeRequest) -> Exchange:
        return self._answer(request)

    def race(self, request: ExchangeRequest, copies: int) -> list[Exchange]:
        self._require("races")
        return [self._answer(request) for _ in range(copies)]

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        self._require("sessions")
        return Session(
            subject=subject,
            token=f"session-of-{subject}",
            user_id=subject,
            environment_id=environment_id,
        )

    def sign_in_exchange(self, request: ExchangeRequest) -> Exchange:
        self._require("sign_in")
        return self._answer(request)

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        self._require("sensitive_operation")
        return self._answer(ExchangeRequest(elevated_token, session=session, label=label))

    def logout(self, session: Session) -> Exchange:
        self._require("logout")
        return self._answer(ExchangeRequest("", session=session, label="logout"))

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        self._require("step_up_check")
        return self._answer(ExchangeRequest(scope, session=session, label=label))

    def token_jwks(self) -> Mapping[str, Any] | None:
        self._require("token_jwks")
        return self._token_keys

    def close(self) -> None:
        pass
