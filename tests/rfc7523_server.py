"""A small, independent RFC 7523 token endpoint for the tests, built with Authlib.

Authlib's framework-agnostic ``AuthorizationServer`` does the OAuth work: client
authentication with ``JWTBearerClientAssertion`` (``private_key_jwt``) for the
``client_credentials`` grant, and the ``JWTBearerGrant`` (the assertion is the grant).
This module only wraps it in Starlette and configures it with the public JWKS of the
test's keys. We do not fix what Authlib gets wrong: it is a real server under test.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance._serving import serve_app

TOKEN_PATH = "/oauth2/token"


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    jwks: Mapping[str, Any]
    grant_types: tuple[str, ...] = ("client_credentials", JWTBearerGrant.GRANT_TYPE)

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return bool(method == JWTBearerClientAssertion.CLIENT_AUTH_METHOD)

    def check_grant_type(self, grant_type: str) -> bool:
        return bool(grant_type in self.grant_types)


@dataclass
class State:
    """What the server knows: clients, seen jti values, and where it listens."""

    clients: dict[str, Client] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)  # subjects the jwt-bearer grant knows
    token_url: str = ""
    seen_jti: set[str] = field(default_factory=set)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._data = dict(pairs)
        self._datalist: dict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, url: str, headers: Mapping[str, str], pairs: list[tuple[str, str]]):
        super().__init__(method="POST", uri=url, headers=dict(headers))
        self.payload = _Payload(pairs)

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data


def _server(state: State) -> AuthorizationServer:
    class Assertion(JWTBearerClientAssertion):  # type: ignore[misc]
        def get_audiences(self) -> list[str]:
            return [state.token_url]

        def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
            with state.lock:
                key = f"{claims.get('sub')}:{jti}"
                if key in state.seen_jti:
                    return False
                state.seen_jti.add(key)
                return True

        def resolve_client_public_key(self, client: Client) -> KeySet:
            return KeySet.import_key_set(dict(client.jwks))  # type: ignore[arg-type]

    class CredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = [JWTBearerClientAssertion.CLIENT_AUTH_METHOD]  # noqa: RUF012

    class BearerGrant(JWTBearerGrant):  # type: ignore[misc]
        LEEWAY = 30  # what the test configuration documents (leeway_s)

        def resolve_issuer_client(self, issuer: str) -> Client | None:
            return state.clients.get(issuer)

        def resolve_client_public_key(self, client: Client) -> KeySet:
            return KeySet.import_key_set(dict(client.jwks))  # type: ignore[arg-type]

        def authenticate_user(self, subject: str) -> str | None:
            return subject if subject in state.users else None

        def has_granted_permission(self, client: Client, user: str) -> bool:
            return True

        def get_audiences(self) -> list[str]:
            return [state.token_url]

    class Server(AuthorizationServer):  # type: ignore[misc]
        def query_client(self, client_id: str) -> Client | None:
            return state.clients.get(client_id)

        def save_token(self, token: Mapping[str, Any], request: Any) -> None:
            with state.lock:
                state.issued += 1

        def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
            return None

        def handle_response(self, status: int, body: Any, headers: Any) -> Response:
            return JSONResponse(body, status_code=status, headers=dict(headers))

        def create_oauth2_request(self, request: Any) -> Any:
            return request

    server = Server()
    server.register_token_generator(
        "default",
        BearerTokenGenerator(lambda *a, **kw: secrets.token_urlsafe(32), expires_generator=300),
    )
    server.register_client_auth_method(
        JWTBearerClientAssertion.CLIENT_AUTH_METHOD, Assertion(leeway=30)
    )
    server.register_grant(CredentialsGrant)
    server.register_grant(BearerGrant)
    return server


def build_app(state: State) -> Starlette:
    """The token endpoint as a Starlette app serving ``state``'s clients."""
    server = _server(state)

    async def token(request: Request) -> Response:
        body = await request.body()
        from urllib.parse import parse_qsl

        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        oauth_request = _Request(str(request.url), request.headers, pairs)
        response: Response = server.create_token_response(oauth_request)
        return response

    return Starlette(routes=[Route(TOKEN_PATH, token, methods=["POST"])])


@contextlib.contextmanager
def running(
    clients: Mapping[str, Mapping[str, Any]], *, users: tuple[str, ...] = ()
) -> Iterator[State]:
    """Serve the endpoint on a loopback port; ``clients`` maps client id → public JWKS;
    ``users`` are the subjects the jwt-bearer grant accepts (default: the client ids)."""
    state = State(
        clients={cid: Client(cid, jwks) for cid, jwks in clients.items()},
        users=set(users or clients),
    )
    with serve_app(build_app(state)) as handle:
        state.token_url = handle.base_url + TOKEN_PATH
        yield state
