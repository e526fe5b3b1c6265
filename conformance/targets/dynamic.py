"""The Dynamic profile: JSON ``{"jwt"}`` with a bearer session (wire-protocol.md)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._assertion import Assertion
from .._redact import remember_secret
from .._settings import TargetSettings
from .._transport import Transport
from ._evidence import evidence, is_loopback
from .base import Exchange, ExchangeRequest, Session, not_offered, parse_json

if TYPE_CHECKING:
    import httpx

    from .._jose import SigningKey

#: Signs the claims of a sign-in JWT with the customer's registered key.
SignInSigner = Callable[[Mapping[str, Any]], str]


def key_signer(key: SigningKey) -> SignInSigner:
    """Signs sign-in claims with ``key`` (header ``alg``, ``kid`` and ``typ`` from it)."""
    return lambda claims: Assertion(claims).signed_with(key)


def _json_field(body: bytes, name: str) -> Any:
    """Member ``name`` of a JSON object body, or ``None``: never raises (a hostile body
    may be broken, undecodable or nested thousands deep)."""
    data = parse_json(body)
    return data.get(name) if isinstance(data, dict) else None


class DynamicTarget:
    """``POST {base}/sdk/{env}/externalAuth/verify`` with ``Authorization: Bearer``."""

    profile = "dynamic"

    def __init__(
        self,
        settings: TargetSettings,
        transport: Transport,
        *,
        sign_in_signer: SignInSigner | None = None,
        session_tokens: Mapping[str, str] | None = None,
        operation_path: str | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self._signer = sign_in_signer
        self._session_tokens = dict(session_tokens or {})
        for token in self._session_tokens.values():
            remember_secret(token)
        self._operation_path = operation_path
        self.is_loopback = is_loopback(settings.base_url)
        self.last_sign_in: Exchange | None = None
        self.supplied_subjects = frozenset(self._session_tokens)
        offered = {"sign_in", "logout", "token_jwks", "races", "step_up_check"}
        if self._signer is not None or self._session_tokens:
            offered.add("sessions")
        if operation_path is not None:
            offered.add("sensitive_operation")
        self.capabilities = frozenset(offered)
        self.description: Mapping[str, Any] = {
            "profile": self.profile,
            "base_url": settings.base_url,
            "environment_id": settings.environment_id,
            "issuer": settings.issuer,
            "audience": settings.audience,
        }

    @property
    def retries(self) -> int:
        return self.transport.retry_count

    def url(self, path: str, environment_id: str | None = None) -> str:
        env = quote(environment_id or self.settings.environment_id, safe="")
        return f"{self.settings.base_url.rstrip('/')}/sdk/{env}{path}"

    def _post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        label: str,
        assertion: str | None = None,
        token_field: str | None = None,
        client: httpx.Client | None = None,
    ) -> Exchange:
        raw = self.transport.request(
            "POST", url, headers=headers, content=body, client=client, throttle=client is None
        )
        issued = None
        if token_field and raw.status is not None and 200 <= raw.status < 300:
            value = _json_field(raw.body, token_field)
            issued = value if isinstance(value, str) else None
        return evidence(label, "POST", url, headers, body, raw, assertion=assertion, issued=issued)

    def _send(self, request: ExchangeRequest, client: httpx.Client | None = None) -> Exchange:
        """The verify call; ``client`` sends on a connection of its own (race copies),
        outside the rate limit."""
        if request.raw_body is not None:
            body = request.raw_body
        else:
            members: dict[str, Any] = {"jwt": request.assertion}
            members.update(request.fields)
            body = json.dumps({k: v for k, v in members.items() if v is not None}).encode()
        sent = {"content-type": request.content_type or "application/json"}
        session = request.session
        if session is not None:
            sent["authorization"] = f"Bearer {session.token}"
        sent.update(request.headers)
        env = request.environment_id or (session.environment_id if session is not None else None)
        return self._post(
            self.url("/externalAuth/verify", env),
            body,
            sent,
            label=request.label,
            assertion=request.assertion,
            token_field="elevatedAccessToken",
            client=client,
        )

    def exchange(self, request: ExchangeRequest) -> Exchange:
        return self._send(request)

    def race(self, request: ExchangeRequest, copies: int) -> list[Exchange]:
        return self.transport.burst(copies, lambda client: self._send(request, client))

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        if subject in self._session_tokens:
            return Session(
                subject=subject,
                token=self._session_tokens[subject],
                environment_id=environment_id or self.settings.environment_id,
            )
        if self._signer is None:
            return None  # only supplied sessions, and none for this subject
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        if self.settings.audience:
            claims["aud"] = self.settings.audience
        jwt = self._signer(claims)
        exchange = self._post(
            self.url("/externalAuth/signin", environment_id),
            json.dumps({"jwt": jwt}).encode(),
            {"content-type": "application/json"},
            label="sign-in",
            token_field="jwt",
        )
        self.last_sign_in = exchange
        if not exchange.accepted or exchange.issued_token is None:
            return None
        user = _json_field(exchange.response_body.encode(), "user")
        user_id = user.get("id") if isinstance(user, dict) else None
        return Session(
            subject=subject,
            token=exchange.issued_token,
            user_id=user_id if isinstance(user_id, str) else None,
            environment_id=environment_id or self.settings.environment_id,
        )

    def sign_in_exchange(self, request: ExchangeRequest) -> Exchange:
        return self._post(
            self.url("/externalAuth/signin", request.environment_id),
            json.dumps({"jwt": request.assertion}).encode(),
            {"content-type": "application/json", **request.headers},
            label=request.label,
            assertion=request.assertion,
            token_field="jwt",
        )

    def logout(self, session: Session) -> Exchange:
        return self._post(
            self.url("/logout", session.environment_id),
            b"{}",
            {"content-type": "application/json", "authorization": f"Bearer {session.token}"},
            label="logout",
        )

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        return self._post(
            self.url("/stepUp/check", session.environment_id),
            json.dumps({"scope": scope}).encode(),
            {"content-type": "application/json", "authorization": f"Bearer {session.token}"},
            label=label,
        )

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        if self._operation_path is None:
            raise not_offered(self, "sensitive_operation")
        path = self._operation_path.format(scope=quote(scope, safe=":"))
        headers = {"content-type": "application/json", "authorization": f"Bearer {session.token}"}
        if elevated_token:  # an empty token: the operation without the header at all
            headers["x-dyn-elevated-access-token"] = elevated_token
        return self._post(
            self.url(path, session.environment_id),
            b"{}",
            headers,
            label=label,
        )

    def token_jwks(self) -> Mapping[str, Any] | None:
        raw = self.transport.request("GET", self.url("/.well-known/jwks"), headers={}, content=None)
        if raw.status != 200:
            return None
        data = parse_json(raw.body)
        return data if isinstance(data, dict) else None

    def close(self) -> None:
        self.transport.client.close()
