"""The target interface and the evidence of one exchange.

A :class:`Target` is what the suite talks to. Its integration seam is one method,
:meth:`Target.exchange`: an :class:`ExchangeRequest` in, an :class:`Exchange` out.
Sessions, sign-in, logout, the sensitive operation, the token JWKS and races are
optional calls, declared on the protocol and advertised in ``Target.capabilities``; the
cases that need one skip on a target that lacks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, Unpack, runtime_checkable

#: Bodies kept as evidence are cut to this many characters.
BODY_LIMIT = 4096
#: An issued token longer than this is not a usable token (a hostile target's blob).
TOKEN_LIMIT = 16384
#: 4xx statuses that are not a refusal of what was sent: a timeout, a rate limit that
#: outlasted the retries, headers too large. They say nothing about the assertion.
NOT_REFUSALS = frozenset({408, 429, 431})
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")


def usable_token(value: object) -> bool:
    """A non-empty string of printable ASCII (no spaces or controls), of sane length: what
    an issued token (a JWS, or an opaque handle) looks like."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= TOKEN_LIMIT
        and _TOKEN_RE.fullmatch(value) is not None
    )


def parse_json(body: str | bytes) -> Any:
    """A target's answer parsed as JSON, or ``None``: never raises (broken, undecodable or
    deeply nested bodies are ``None``)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


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

    ``response_body`` and ``response_headers`` are the *recorded* answer: bounded, secrets
    redacted, control characters escaped (:mod:`conformance._redact`). The answer as the
    target sent it is kept in ``raw_response_body``/``raw_response_headers`` for the
    checks that judge what the target disclosed or echoed (:attr:`answer_text`,
    :meth:`json`); those two fields are never serialised and never in a repr.
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
    sent_at: float | None = field(default=None, compare=False)  # epoch s, local clock
    raw_response_body: str | None = field(default=None, repr=False, compare=False)
    raw_response_headers: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    #: whom the answer says the token (or session) was issued for, where the target
    #: reports it (capability ``reports_subject``); a user identifier, never a secret
    subject: str | None = None
    #: the request as sent (whole, unscrubbed), for the curl line to find the assertion
    #: in it (``_reproduce.py``): never serialised, never in a repr
    raw_request_body: str | None = field(default=None, repr=False, compare=False)
    raw_request_headers: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    #: the assertion travelled in a request header: a 431 (headers too large) is then a
    #: refusal of the assertion itself
    assertion_in_header: bool = field(default=False, compare=False)

    def _repr_html_(self) -> str:
        from .._reprs import exchange_html  # lazy: only a notebook displaying one needs it

        return exchange_html(self)

    @property
    def complete(self) -> bool:
        """An HTTP answer that arrived whole (no reset or deadline mid-body)."""
        return self.status is not None and self.error is None

    @property
    def accepted(self) -> bool:
        """A clean acceptance: a complete 2xx answer carrying a usable issued token
        (:func:`usable_token`)."""
        return self.complete and 200 <= (self.status or 0) < 300 and usable_token(self.issued_token)

    @property
    def rejected(self) -> bool:
        """A clean refusal: a complete 4xx answer other than 408, 429 and 431 (a timeout,
        a rate limit that outlasted the retries, headers too large say nothing about the
        assertion), a 431 included where the assertion travelled in a header."""
        status = self.status or 0
        if status == 431 and self.assertion_in_header:
            return self.complete
        return self.complete and 400 <= status < 500 and status not in NOT_REFUSALS

    @property
    def misbehaved(self) -> bool:
        """Neither a clean acceptance nor a clean refusal (no or a partial answer, 1xx,
        3xx, 408/429/431, 5xx, a 2xx without a usable token): nothing is proved."""
        return not self.accepted and not self.rejected

    @property
    def answer_text(self) -> str:
        """The answer as the target sent it (body, then header values), for checks
        that look for disclosures and echoes; the recorded one when no raw answer was kept.
        Never record it: it may hold the very secrets the check looks for."""
        body = self.response_body if self.raw_response_body is None else self.raw_response_body
        headers = (
            self.response_headers
            if self.raw_response_headers is None
            else (self.raw_response_headers)
        )
        return body + " " + " ".join(headers.values())

    def json(self) -> Any:
        """The response body as the target sent it, parsed as JSON, or ``None`` (never
        raises)."""
        body = self.response_body if self.raw_response_body is None else self.raw_response_body
        return parse_json(body)


#: The optional calls a target may offer, advertised in :attr:`Target.capabilities`.
#: A case or recipe that needs one skips, with the reason, on a target without it.
TARGET_CAPABILITIES = frozenset(
    {
        "sessions",  # sign_in() gives a session (signed in, or supplied by the user)
        "sign_in",  # sign_in_exchange() sends a JWT to the sign-in call as it is
        "logout",  # logout() ends a session
        "sensitive_operation",  # sensitive_operation() uses an issued token
        "token_jwks",  # token_jwks() reads the keys the target signs issued tokens with
        "races",  # race() sends copies of one request at once, one connection each
        "step_up_check",  # step_up_check() asks whether a scope still needs a step-up
        "reports_subject",  # an issued answer names whom it is for (Exchange.subject)
    }
)


class RequestOptions(TypedDict, total=False):
    """How one request departs from the profile's correct request (all optional)."""

    #: replaces the whole body (malformed bodies); ``fields`` are then ignored
    raw_body: bytes
    #: replaces the profile's content type
    content_type: str
    #: added to (or replacing) the profile's headers
    headers: Mapping[str, str]
    #: the environment in the path, instead of the session's or the configured one
    environment_id: str
    #: body members (JSON) or form parameters to set; ``None`` removes one
    fields: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """Everything one exchange needs; the target decides how its profile sends it.

    ``assertion`` is the token as it is sent (any string, valid or hostile); ``session``
    authenticates the call where the profile has sessions (ignored elsewhere).
    """

    assertion: str = field(repr=False)
    session: Session | None = None
    label: str = "exchange"
    # bodies, headers and fields carry the assertion or a bearer: never in a repr
    raw_body: bytes | None = field(default=None, repr=False)
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    environment_id: str | None = None
    fields: Mapping[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        assertion: str,
        *,
        session: Session | None = None,
        label: str = "exchange",
        **options: Unpack[RequestOptions],
    ) -> ExchangeRequest:
        """A request from a recipe's keyword arguments (see :class:`RequestOptions`)."""
        return cls(assertion=assertion, session=session, label=label, **options)


@runtime_checkable
class Target(Protocol):
    """An exchange endpoint under test.

    The seam is :meth:`exchange`. Everything else is an optional call, declared here and
    advertised in :attr:`capabilities` (names from :data:`TARGET_CAPABILITIES`); calling
    one the target does not advertise raises ``NotImplementedError``.
    """

    #: "dynamic" or "rfc7523"
    profile: str
    #: human description with secrets redacted (shown in reports); profile options
    #: (``mode``, ``client_id``, ``token_url`` for RFC 7523) are read from here
    description: Mapping[str, Any]
    #: the target is on a loopback address (bursts allowed without opt-in)
    is_loopback: bool
    #: the optional calls this target offers
    capabilities: frozenset[str]
    #: subjects whose session was supplied, not signed in: never renewed or logged out
    supplied_subjects: frozenset[str]
    #: the last sign-in exchange (says why a session could not be had), if any
    last_sign_in: Exchange | None

    @property
    def retries(self) -> int:
        """Transport retries so far (connect failures, 429/503), for the results."""
        ...

    def exchange(self, request: ExchangeRequest) -> Exchange:
        """Send ``request`` the way this profile does and keep the answer as evidence."""
        ...

    def race(self, request: ExchangeRequest, copies: int) -> Sequence[Exchange]:
        """Send ``copies`` copies of ``request`` at once, each on a connection of its own,
        within one rate-limit slot (capability ``races``)."""
        ...

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        """A session for ``subject`` (capability ``sessions``), or ``None`` when the target
        refused one (:attr:`last_sign_in` says why)."""
        ...

    def sign_in_exchange(self, request: ExchangeRequest) -> Exchange:
        """Send ``request.assertion`` to the sign-in call as it is (capability ``sign_in``)."""
        ...

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        """Use an issued token on the operation guarded by ``scope``
        (capability ``sensitive_operation``)."""
        ...

    def logout(self, session: Session) -> Exchange:
        """End ``session`` at the target (capability ``logout``)."""
        ...

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        """Ask whether ``scope`` still needs a step-up in ``session`` (Dynamic's
        ``stepUp/check``; capability ``step_up_check``)."""
        ...

    def token_jwks(self) -> Mapping[str, Any] | None:
        """The public keys the target signs issued tokens with, or ``None`` when it does
        not publish them (capability ``token_jwks``)."""
        ...

    def close(self) -> None: ...


class Unsendable(Exception):
    """The request cannot be put on this target's wire (an assertion with a line break,
    in the header a profile carries it in): the case does not apply there (a skip, with
    this message), and nothing was sent."""


def not_offered(target: Target, capability: str) -> NotImplementedError:
    """The error an adapter raises for an optional call it does not offer."""
    return NotImplementedError(f"the {target.profile} target does not offer {capability!r}")
