"""The RFC 7523 profile: a form-encoded POST to an OAuth token endpoint.

Two modes (RFC 7523 §2):

* ``client_assertion`` — the assertion authenticates the client (``private_key_jwt``):
  ``grant_type=client_credentials&client_id=…&client_assertion_type=…&client_assertion=<jwt>``;
* ``jwt_bearer`` — the assertion is the grant:
  ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`` (plus
  ``client_id`` when configured).

Success is a 2xx with ``access_token``; refusals are 400/401 with ``{"error": …}``. The
target has no sessions, no sensitive operation and publishes no token keys: the cases
that need those skip. ``ExchangeRequest.fields`` edit the form (``None`` drops one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .._redact import remember_target_secret
from .._settings import TargetSettings
from .._transport import Transport
from ._evidence import evidence, is_loopback
from .base import Exchange, ExchangeRequest, Session, not_offered, parse_json

if TYPE_CHECKING:
    import httpx

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MODES = ("client_assertion", "jwt_bearer")
AUDIENCE_KINDS = ("token_url", "issuer")
FORM = "application/x-www-form-urlencoded"
#: Members of a token response that are credentials: never kept whole as evidence.
_SECRET_MEMBERS = ("access_token", "refresh_token", "id_token")


@dataclass(frozen=True, slots=True)
class Rfc7523Options:
    """How to talk to one RFC 7523 token endpoint (no secrets here).

    Raises ``ValueError`` for a ``mode`` outside :data:`MODES`, an ``audience_kind``
    outside :data:`AUDIENCE_KINDS`, or an empty ``token_url``/``client_id``.
    """

    token_url: str
    client_id: str
    mode: str = "client_assertion"
    audience_kind: str = "token_url"
    scope: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.audience_kind not in AUDIENCE_KINDS:
            raise ValueError(f"audience_kind must be one of {', '.join(AUDIENCE_KINDS)}")
        if not self.token_url or not self.client_id:
            raise ValueError("token_url and client_id must be non-empty")


def rfc7523_settings(
    options: Rfc7523Options,
    *,
    audience: str | None = None,
    issuer: str | None = None,
    subjects: Sequence[str] | None = None,
    capabilities: frozenset[str] = frozenset(),
    **fields: Any,
) -> TargetSettings:
    """The :class:`TargetSettings` that make every catalog case speak RFC 7523.

    ``iss`` and ``sub`` are the client id (RFC 7523 §3 for client authentication; for the
    grant they default to it), ``aud`` is the token URL, or ``audience`` (the server's
    issuer identifier) when ``options.audience_kind == "issuer"``. Raises ``ValueError``
    when ``audience_kind`` is ``"issuer"`` and no ``audience`` is given.
    """
    if options.audience_kind == "issuer":
        if not audience:
            raise ValueError("audience_kind 'issuer' needs the server's issuer as audience")
        aud = audience
    else:
        aud = options.token_url
    return TargetSettings(
        profile="rfc7523",
        base_url=options.token_url,
        issuer=issuer or options.client_id,
        audience=aud,
        subjects=tuple(subjects or (options.client_id,)),
        capabilities=capabilities,
        **{"scope_claim": False, **fields},  # RFC 7523 has no scope claim
    )


def _remember_credentials(body: bytes) -> None:
    """Remember every credential a token response carries (a JWT's signature, an opaque
    token whole), so that the recorded body, and any echo of them, has them cut."""
    data = parse_json(body)
    if isinstance(data, dict):
        for member in _SECRET_MEMBERS:
            value = data.get(member)
            if isinstance(value, str):
                remember_target_secret(value)


class Rfc7523Target:
    """``POST token_url`` form-encoded, as a client of an RFC 7523 server."""

    profile = "rfc7523"

    def __init__(
        self, settings: TargetSettings, transport: Transport, options: Rfc7523Options
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.options = options
        self.is_loopback = is_loopback(options.token_url)
        self.capabilities = frozenset({"races"})
        self.supplied_subjects: frozenset[str] = frozenset()
        self.last_sign_in: Exchange | None = None
        self.description: Mapping[str, Any] = {
            "profile": self.profile,
            "token_url": options.token_url,
            "client_id": options.client_id,
            "mode": options.mode,
            # what aud carries: the cases of RFC 10070's audience rule read it
            "audience_kind": options.audience_kind,
            "audience": settings.audience,
        }

    @property
    def retries(self) -> int:
        return self.transport.retry_count

    # -- the form --------------------------------------------------------------------
    def form(self, assertion: str | None) -> dict[str, str]:
        """The form parameters of a correct request carrying ``assertion`` (``None``
        leaves the assertion parameter out)."""
        params: dict[str, str] = {}
        if self.options.mode == "client_assertion":
            params["grant_type"] = "client_credentials"
            params["client_id"] = self.options.client_id
            params["client_assertion_type"] = CLIENT_ASSERTION_TYPE
            if assertion is not None:
                params["client_assertion"] = assertion
        else:
            params["grant_type"] = JWT_BEARER_GRANT
            if assertion is not None:
                params["assertion"] = assertion
            params["client_id"] = self.options.client_id
        if self.options.scope:
            params["scope"] = self.options.scope
        return params

    def form_body(
        self, assertion: str | None, fields: Mapping[str, str | None] | None = None
    ) -> bytes:
        """:meth:`form` with ``fields`` applied (``None`` removes a parameter), encoded."""
        params: dict[str, str | None] = dict(self.form(assertion))
        params.update(fields or {})
        return urlencode({k: v for k, v in params.items() if v is not None}).encode("ascii")

    # -- Target ----------------------------------------------------------------------
    def _send(self, request: ExchangeRequest, client: httpx.Client | None = None) -> Exchange:
        """POST the request in this mode's form; ``raw_body`` replaces the whole body.
        Sessions and environments mean nothing here and are ignored."""
        if request.raw_body is not None:
            body = request.raw_body
        else:
            body = self.form_body(request.assertion, request.fields)
        headers = {"content-type": request.content_type or FORM, "accept": "application/json"}
        headers.update(request.headers)
        url = self.options.token_url
        raw = self.transport.request(
            "POST", url, headers=headers, content=body, client=client, throttle=client is None
        )
        issued = None
        if raw.status is not None and 200 <= raw.status < 300:
            issued = _access_token(raw.body)
            if issued is not None:
                remember_target_secret(issued)
            _remember_credentials(raw.body)
        return evidence(
            request.label,
            "POST",
            url,
            headers,
            body,
            raw,
            assertion=request.assertion,
            issued=issued,
        )

    def exchange(self, request: ExchangeRequest) -> Exchange:
        return self._send(request)

    def race(self, request: ExchangeRequest, copies: int) -> list[Exchange]:
        return self.transport.burst(copies, lambda client: self._send(request, client))

    # A token endpoint has no user sessions, no sign-in, no guarded operation and
    # publishes no token keys: it does not advertise those capabilities.
    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        raise not_offered(self, "sessions")

    def sign_in_exchange(self, request: ExchangeRequest) -> Exchange:
        raise not_offered(self, "sign_in")

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        raise not_offered(self, "sensitive_operation")

    def logout(self, session: Session) -> Exchange:
        raise not_offered(self, "logout")

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        raise not_offered(self, "step_up_check")

    def token_jwks(self) -> Mapping[str, Any] | None:
        raise not_offered(self, "token_jwks")

    def close(self) -> None:
        self.transport.client.close()


def _access_token(body: bytes) -> str | None:
    data = parse_json(body)
    value = data.get("access_token") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def error_code(exchange: Exchange) -> str | None:
    """The OAuth ``error`` code of a refusal (RFC 6749 §5.2), or ``None``."""
    data = exchange.json()
    value = data.get("error") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
