"""The Dynamic profile: JSON ``{"jwt"}`` with a bearer session (wire-protocol.md)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .._redact import redact_headers, remember_secret, scrub
from .._settings import TargetSettings
from .._transport import RawResponse, Transport
from .base import Exchange, Session

if TYPE_CHECKING:
    import httpx

    from .._jose import SigningKey

#: Signs the claims of a sign-in JWT with the customer's registered key.
SignInSigner = Callable[[Mapping[str, Any]], str]


def key_signer(key: SigningKey) -> SignInSigner:
    """Signs sign-in claims with ``key`` (header ``alg``, ``kid`` and ``typ`` from it)."""
    from .._assertion import Assertion

    return lambda claims: Assertion(claims).signed_with(key)


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


def _json_field(body: bytes, name: str) -> Any:
    try:
        data = json.loads(body)
    except ValueError:
        return None
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
        #: the last sign-in exchange (why a session could not be had, for the message)
        self.last_sign_in: Exchange | None = None
        self.description: Mapping[str, Any] = {
            "profile": self.profile,
            "base_url": settings.base_url,
            "environment_id": settings.environment_id,
            "issuer": settings.issuer,
            "audience": settings.audience,
        }

    @property
    def configured_subjects(self) -> frozenset[str]:
        """Subjects whose session token was supplied (not signed in): they cannot be
        renewed, and a case must never log them out."""
        return frozenset(self._session_tokens)

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
        client: httpx.Client | None = None,
    ) -> Exchange:
        """``client`` sends on a connection of its own (race copies), outside the rate
        limit; by default the shared client does."""
        body = raw_body if raw_body is not None else json.dumps({"jwt": assertion}).encode()
        sent = {"content-type": content_type or "application/json"}
        if session is not None:
            sent["authorization"] = f"Bearer {session.token}"
        sent.update(headers or {})
        env = environment_id or (session.environment_id if session is not None else None)
        url = self.url("/externalAuth/verify", env)
        return self._post(
            url,
            body,
            sent,
            label=label,
            assertion=assertion,
            token_field="elevatedAccessToken",
            client=client,
        )

    def exchange_with_client(
        self, assertion: str, client: httpx.Client, *, session: Session | None, label: str
    ) -> Exchange:
        """:meth:`exchange` on a connection of its own (race cases)."""
        return self.exchange(assertion, session=session, label=label, client=client)

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        if subject in self._session_tokens:
            return Session(
                subject=subject,
                token=self._session_tokens[subject],
                environment_id=environment_id or self.settings.environment_id,
            )
        if self._signer is None:
            return None
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

    def sign_in_exchange(self, jwt: str, *, label: str = "sign-in") -> Exchange:
        """Send a sign-in JWT as it is (for cases about the sign-in call itself)."""
        return self._post(
            self.url("/externalAuth/signin"),
            json.dumps({"jwt": jwt}).encode(),
            {"content-type": "application/json"},
            label=label,
            assertion=jwt,
            token_field="jwt",
        )

    def logout(self, session: Session) -> Exchange:
        return self._post(
            self.url("/logout", session.environment_id),
            b"{}",
            {"content-type": "application/json", "authorization": f"Bearer {session.token}"},
            label="logout",
        )

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange | None:
        if self._operation_path is None:
            return None
        path = self._operation_path.format(scope=quote(scope, safe=":"))
        return self._post(
            self.url(path, session.environment_id),
            b"{}",
            {
                "content-type": "application/json",
                "authorization": f"Bearer {session.token}",
                "x-dyn-elevated-access-token": elevated_token,
            },
            label=label,
        )

    def token_jwks(self) -> Mapping[str, Any] | None:
        """The keys the target signs its tokens with, when it publishes them."""
        raw = self.transport.request("GET", self.url("/.well-known/jwks"), headers={}, content=None)
        if raw.status != 200:
            return None
        try:
            data = json.loads(raw.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def close(self) -> None:
        self.transport.client.close()
