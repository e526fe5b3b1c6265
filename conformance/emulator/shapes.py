"""The emulator's other exchange shapes: the same validation behind other requests.

Besides Dynamic's verify call (``service.py``), the emulator answers three more shapes,
each a route of its own under ``/api/v0/sdk/{environment_id}`` so that every flaw and
policy variant of the shared :class:`~.validation.Validator` applies to all of them:

* ``POST /oauth/token`` — RFC 8693 token exchange with a JWT ``subject_token``
  (``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``,
  ``subject_token_type=urn:ietf:params:oauth:token-type:jwt``), form-encoded; success is
  ``{"access_token", "issued_token_type", "token_type", "expires_in"}`` (RFC 8693 §2.2.1).
* ``POST /v1/sessions/attest`` — Stytch's trusted auth tokens: JSON
  ``{"profile_id", "token", "session_duration_minutes"?}``; ``profile_id`` names the
  environment; success carries ``session_token`` (opaque) and ``session_jwt``
  (stytch.com/docs/api-reference/consumer/api/sessions/attest-session).
* ``POST /api/v0/api/v1/custom_jwt_account/authenticate`` — Privy's JWT-based auth: JSON
  ``{"token"}`` with a ``privy-app-id`` header naming the environment; success is
  ``{"user", "token", "refresh_token", "identity_token", "is_new_user"}`` (the path and
  body as Privy's published JS SDK sends them; docs.privy.io/authentication/
  user-authentication/jwt-based-auth/setup: the signature and ``exp`` are verified).

The keys that sign the sessions these routes issue are the emulator's own token keys,
served where each vendor publishes them: ``/.well-known/jwks`` (Dynamic and RFC 8693),
``/v1/sessions/jwks/{project_id}`` (Stytch) and ``/api/v1/apps/{app_id}/jwks.json``
(Privy, under ``/api/v0``).

Dynamic's own sign-in (``/externalAuth/signin``) is in ``service.py``. Each shape checks
the signature and the claims its documentation requires, plus the reference policy's
hardening (``iss``/``aud`` of the environment, lifetime bounds, a ``jti`` seen twice is
refused); ``jti`` and ``scope`` are not required by these shapes. The shape flaws
(``flaws.py``, "shape flaws") each drop one check on one route.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl

from .config import Environment
from .service import Emulator, Reply
from .store import SessionRow
from .tokens import SESSION_TYP
from .validation import Decoded, Rejected

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "EXCHANGED_TYP",
    "JWT_TOKEN_TYPE",
    "PRIVY_APP_HEADER",
    "PRIVY_JWKS_PATH",
    "PRIVY_PATH",
    "STYTCH_JWT_S",
    "STYTCH_MAX_MINUTES",
    "STYTCH_MIN_MINUTES",
    "TOKEN_EXCHANGE_GRANT",
    "privy_authenticate",
    "stytch_attest",
    "token_exchange",
]

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
#: The ``typ`` of the access tokens the token-exchange route issues.
EXCHANGED_TYP = "at+jwt"
#: Stytch's default and bounds for ``session_duration_minutes`` (5 minutes to a year).
STYTCH_MIN_MINUTES, STYTCH_MAX_MINUTES = 5, 525600
#: A Stytch session JWT expires after 5 minutes, whatever the session's duration
#: (stytch.com/docs/guides/sessions/session-tokens-vs-jwts).
STYTCH_JWT_S = 300
#: The header that names the app (environment) on the Privy route.
PRIVY_APP_HEADER = "privy-app-id"
#: The Privy route, under the emulator's ``/api/v0`` (Privy serves it at the root of
#: ``auth.privy.io``).
PRIVY_PATH = "/api/v1/custom_jwt_account/authenticate"
#: Where the Privy route's session keys are published (Privy: ``/api/v1/apps/{app_id}/jwks.json``).
PRIVY_JWKS_PATH = "/api/v1/apps/{app_id}/jwks.json"


def _oauth_error(code: str, description: str, *, status: int = 400) -> Rejected:
    """An RFC 6749 §5.2 refusal: the ``error`` member is the code; ``leaky_errors`` adds
    the description."""
    return Rejected(code, status=status, leak=description)


def _with_refusal_status(emulator: Emulator, call: Any) -> Reply:
    """Run ``call``; under a ``refusal_status`` variant every refusal gets that status."""
    status = emulator.config.refusal_status
    try:
        reply: Reply = call()
    except Rejected as rejected:
        if status is not None and rejected.status not in (404, 413):
            rejected.status = status
        raise
    return reply


def _subject(
    emulator: Emulator,
    decoded: Decoded,
    env: Environment,
    *,
    now: float,
    check_audience: bool = True,
    check_clock: bool = True,
    record_jti: bool = True,
) -> str:
    """Check the signature and the claims every shape shares; returns ``sub``.

    ``sub`` and ``exp`` are required; ``exp``/``nbf``/``iat`` and the lifetime bound as
    for the verify call; ``iss``/``aud`` of the environment; a ``jti``, when present, is
    single use. ``check_audience``, ``check_clock`` and ``record_jti`` off are the shape
    flaws.
    """
    validator = emulator.validator
    validator.check_signature(decoded, env)
    claims = decoded.claims
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Rejected("invalid token: sub is required", status=400)
    if check_clock:
        validator._times(claims, now=now, lifetime=True)
    elif "exp" not in claims:  # the shape flaw: exp required, never compared
        raise Rejected("invalid token: exp is required", status=400)
    validator._issuer_and_audience(
        claims, env if check_audience else dataclasses.replace(env, audience=None)
    )
    if record_jti:
        emulator.single_use(claims, env, now=now)
    return sub


def _new_session(
    emulator: Emulator,
    env: Environment,
    subject: str,
    *,
    now: float,
    ttl: float,
    jwt_ttl: float | None = None,
) -> tuple[str, str]:
    """Open a session for ``subject`` lasting ``ttl``: (user id, session JWT); the JWT
    expires with the session, or after ``jwt_ttl`` when that is sooner."""
    sid = str(uuid.uuid4())
    user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{env.id}\x00{subject}"))
    expires = now + ttl
    token = emulator.issuer.sign(
        {
            "iss": f"emulator:{env.id}",
            "sub": user_id,
            "sid": sid,
            "environment_id": env.id,
            "external_sub": subject,
            "iat": int(now),
            "exp": int(expires if jwt_ttl is None else min(expires, now + jwt_ttl)),
            "jti": str(uuid.uuid4()),
        },
        typ=SESSION_TYP,
    )
    emulator.store.add_session(SessionRow(sid, env.id, subject, user_id, int(expires), False))
    return user_id, token


# -- RFC 8693 token exchange -----------------------------------------------------------


def token_exchange(emulator: Emulator, env_id: str, body: bytes) -> Reply:
    """``POST /oauth/token`` (RFC 8693 §2.1) with a JWT subject token."""
    env = emulator.environment(env_id)
    return _with_refusal_status(emulator, lambda: _token_exchange(emulator, env, body))


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise _oauth_error("invalid_request", "the body is not a form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:  # RFC 6749 §3.2: parameters must not be repeated
            raise _oauth_error("invalid_request", f"{name} repeated")
        form[name] = value
    return form


def _token_exchange(emulator: Emulator, env: Environment, body: bytes) -> Reply:
    form = _form(body)
    has = emulator.config.has
    if form.get("grant_type") != TOKEN_EXCHANGE_GRANT:
        raise _oauth_error("unsupported_grant_type", "grant_type must be token-exchange")
    token = form.get("subject_token")
    if not token:
        raise _oauth_error("invalid_request", "subject_token is required")
    if form.get("subject_token_type") != JWT_TOKEN_TYPE:
        raise _oauth_error("invalid_request", "subject_token_type must be the JWT token type")
    if "actor_token" in form:  # no delegation here (RFC 8693 §2.1: MAY)
        raise _oauth_error("invalid_request", "actor_token is not supported")
    requested = form.get("requested_token_type")
    if requested not in (None, ACCESS_TOKEN_TYPE):
        raise _oauth_error("invalid_target", "only access tokens are issued")
    scopes: tuple[str, ...] = ()
    if form.get("scope"):
        scopes = tuple(dict.fromkeys(form["scope"].split(" ")))
        if any(s not in emulator.config.known_scopes for s in scopes):
            raise _oauth_error("invalid_scope", "unknown scope")
    decoded = emulator._token_member(_as_json(token), env)
    now = emulator.clock()
    subject = _subject(
        emulator, decoded, env, now=now, record_jti=not has("subject_token_replayable")
    )
    ttl = int(emulator.config.elevated_ttl_s)
    claims: dict[str, Any] = {
        "iss": f"emulator:{env.id}",
        "sub": subject,
        "aud": env.audience or f"emulator:{env.id}",
        "environment_id": env.id,
        "iat": int(now),
        "exp": int(now) + ttl,
        "jti": str(uuid.uuid4()),
    }
    if scopes:
        claims["scope"] = " ".join(scopes)
    access = emulator.issuer.sign(claims, typ=EXCHANGED_TYP)
    reply: dict[str, Any] = {
        "access_token": access,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": ttl,
    }
    if scopes:
        reply["scope"] = " ".join(scopes)
    return 200, reply


def _as_json(token: str) -> bytes:
    """The token as the verify call's body, so that the shared token decoder (and the
    envelope flaws on it) reads it the same way."""
    return json.dumps({"jwt": token}).encode()


# -- Stytch trusted auth tokens --------------------------------------------------------


def stytch_attest(emulator: Emulator, env_id: str, body: bytes) -> Reply:
    """``POST /v1/sessions/attest``: a trusted auth token for a Stytch session."""
    env = emulator.environment(env_id)
    return _with_refusal_status(emulator, lambda: _stytch_attest(emulator, env, body))


def _stytch_attest(emulator: Emulator, env: Environment, body: bytes) -> Reply:
    parsed = emulator._body(body)
    if parsed.get("profile_id") != env.id:
        raise Rejected("profile_id does not name a trusted auth token profile", status=400)
    minutes = parsed.get("session_duration_minutes", 60)
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not STYTCH_MIN_MINUTES <= minutes <= STYTCH_MAX_MINUTES
    ):
        raise Rejected("session_duration_minutes out of range", status=400)
    token = parsed.get("token")
    if not isinstance(token, str):
        raise Rejected("token must be a string", status=400)
    decoded = emulator._token_member(_as_json(token), env)
    now = emulator.clock()
    aud_checked = not emulator.config.has("attest_aud_ignored")
    subject = _subject(emulator, decoded, env, now=now, check_audience=aud_checked)
    ttl = min(float(minutes) * 60, float(emulator.config.session_ttl_s))
    user_id, session_jwt = _new_session(
        emulator, env, subject, now=now, ttl=ttl, jwt_ttl=STYTCH_JWT_S
    )
    return 200, {
        "status_code": 200,
        "request_id": f"request-{uuid.uuid4()}",
        "user_id": user_id,
        "session_token": secrets.token_urlsafe(32),
        "session_jwt": session_jwt,
        "user": {"user_id": user_id, "trusted_metadata": {"external_id": subject}},
        "session": {"user_id": user_id, "authentication_factors": [{"type": "trusted_auth_token"}]},
    }


# -- Privy JWT-based auth --------------------------------------------------------------


def privy_authenticate(emulator: Emulator, app_id: str | None, body: bytes) -> Reply:
    """``POST /api/v1/custom_jwt_account/authenticate`` with ``privy-app-id``."""
    if not app_id:
        raise Rejected("privy-app-id header is required", status=400)
    env = emulator.environment(app_id)
    return _with_refusal_status(emulator, lambda: _privy_authenticate(emulator, env, body))


def _privy_authenticate(emulator: Emulator, env: Environment, body: bytes) -> Reply:
    token = emulator._body(body).get("token")
    if not isinstance(token, str):
        raise Rejected("token must be a string", status=400)
    decoded = emulator._token_member(_as_json(token), env)
    now = emulator.clock()
    clock_checked = not emulator.config.has("custom_jwt_exp_unchecked")
    subject = _subject(emulator, decoded, env, now=now, check_clock=clock_checked)
    user_id, session_jwt = _new_session(
        emulator, env, subject, now=now, ttl=float(emulator.config.session_ttl_s)
    )
    return 200, {
        "user": {
            "id": f"did:privy:{user_id}",
            "linked_accounts": [{"type": "custom_auth", "custom_user_id": subject}],
        },
        "token": session_jwt,
        "refresh_token": secrets.token_urlsafe(32),
        "identity_token": None,
        "is_new_user": False,
    }
