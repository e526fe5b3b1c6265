"""The emulator's behaviour, independent of HTTP: one method per endpoint.

Each method takes already-read request parts and returns ``(status, json_body | None)``
or raises :class:`~.validation.Rejected`. Methods block (SQLite, JWKS fetches): the app
runs them in a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import math
import time
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from ._b64 import b64url_decode
from .config import EmulatorConfig, Environment
from .jwks_cache import JwksCache
from .store import SessionRow, Store
from .tokens import ELEVATED_TYP, SESSION_TYP, TokenIssuer
from .validation import (
    Decoded,
    Parsing,
    Rejected,
    Validator,
    decode_compact,
    decode_compact_fragile,
)

Reply = tuple[int, dict[str, Any] | None]

LONG_LIVED_S = 30 * 86400.0
#: How long the ``jti_race`` flaw pauses between its check and its set.
RACE_PAUSE_S = 0.2
#: How long the ``stall_on_many_segments`` flaw stalls, and from how many dots.
STALL_S = 3.0
STALL_DOTS = 64
#: How many jtis the ``jti_store_bounded`` flaw keeps.
BOUNDED_JTIS = 64
#: Names a plain JavaScript object already "has" (``jti_prototype_names``).
PROTOTYPE_NAMES = frozenset(
    {
        "__proto__",
        "constructor",
        "toString",
        "hasOwnProperty",
        "valueOf",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
        "__defineGetter__",
        "__lookupGetter__",
    }
)
#: Expired jtis and elevated tokens are deleted every this many successful verifies.
PURGE_EVERY = 256
_USER_NS = uuid.UUID("6f1d4c2e-8a57-4c1b-9d0e-5b3a7c2f9e10")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Emulator:
    """One emulator instance: config, state, keys and caches."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: Callable[[], float] = time.time,
        jwks_transport: Any = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = Store(config.state)
        self.issuer = TokenIssuer(config.state)
        self.jwks = JwksCache(
            ttl_s=config.jwks_ttl_s,
            min_refetch_s=config.jwks_min_refetch_s,
            timeout_s=config.jwks_timeout_s,
            max_bytes=config.jwks_max_bytes,
            stale_s=config.jwks_stale_s,
            transport=jwks_transport,
            flaws=config.flaws,
        )
        self.validator = Validator(config, self.jwks)
        self._fragile = config.has("server_error_on_malformed")
        self._verifies = 0

    def close(self) -> None:
        self.jwks.close()
        self.store.close()

    def error_text(self, rejected: Rejected) -> str:
        """What the client sees; ``leaky_errors`` appends the internal detail."""
        if self.config.has("leaky_errors") and rejected.leak:
            return f"{rejected.message}: {rejected.leak}"
        return rejected.message

    def reflecting_page(self, rejected: Rejected, body: bytes) -> str | None:
        """The ``errors_reflect_input`` flaw: an HTML error page quoting the assertion's
        ``kid`` and ``sub`` as they came (``None`` when the flaw is off)."""
        if not self.config.has("errors_reflect_input"):
            return None
        quoted: list[str] = []
        try:
            token = json.loads(body).get("jwt", "")
            head, payload = str(token).split(".")[:2]
            for segment, name in ((head, "kid"), (payload, "sub")):
                raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
                quoted.append(f"{name}={json.loads(raw).get(name)}")
        except (ValueError, AttributeError, TypeError):
            pass  # nothing to quote
        text = f"{rejected.message} {' '.join(quoted)}"
        return f"<html><body><h1>Error</h1><p>{text}</p></body></html>"

    # -- request parts --------------------------------------------------------------------

    def environment(self, env_id: str) -> Environment:
        env = self.config.environment(env_id)
        if env is None:
            raise Rejected("unknown environment", status=404)
        return env

    def _body(self, body: bytes) -> dict[str, Any]:
        if self._fragile:
            parsed = json.loads(body)
            parsed.get("jwt")  # a non-object body escapes as AttributeError
            return dict(parsed)
        try:
            parsed = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Rejected("request body must be a JSON object", status=400) from None
        if not isinstance(parsed, dict):
            raise Rejected("request body must be a JSON object", status=400)
        return parsed

    def _token_member(self, body: bytes, env: Environment) -> Decoded:
        parsed = self._body(body)
        token = parsed.get("jwt")
        many = isinstance(token, str) and token.count(".") > STALL_DOTS
        if many and self.config.has("stall_on_many_segments"):
            time.sleep(STALL_S)  # the quadratic re-split of a careless parser
        if self._fragile:
            return decode_compact_fragile(token)
        if not isinstance(token, str) or not token:
            raise Rejected("jwt must be a non-empty string", status=400)
        if self.config.has("json_serialization_accepted") and token.lstrip().startswith("{"):
            return self.validator.json_serialization(token, env)
        if self.config.has("jwe_decrypted_as_trusted") and token.count(".") == 4:
            return self._decrypted(token)
        return decode_compact(
            token, max_bytes=self.config.max_token_bytes, parsing=Parsing.of(self.config)
        )

    def _decrypted(self, token: str) -> Decoded:
        """The ``jwe_decrypted_as_trusted`` flaw: a JWE encrypted to our own key is
        decrypted and its content trusted as if signed (json-jwt GHSA-c8v6-786g-vjx6): raw
        claims, or a nested JWS read without verifying it."""
        try:
            plaintext = self.issuer.decrypt(token).decode("utf-8")
            if plaintext.count(".") == 2:
                head, body, _ = plaintext.split(".")
                header = json.loads(b64url_decode(head))
                claims = json.loads(b64url_decode(body))
            else:
                header, claims = {}, json.loads(plaintext)
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise Rejected("malformed assertion", status=400) from None
        if not isinstance(claims, dict) or not isinstance(header, dict):
            raise Rejected("malformed assertion: payload is not a JSON object", status=400)
        return Decoded(header, claims, b"", b"", "", verified=True)

    def session(self, env: Environment, authorization: str | None) -> SessionRow:
        """The live session named by the bearer; 401 otherwise (also for another env)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejected("missing or invalid session", status=401)
        now = self.clock()
        claims = self.issuer.verify(token.strip(), now=now, typ=SESSION_TYP)
        sid = claims.get("sid") if claims else None
        row = self.store.session(sid) if isinstance(sid, str) else None
        if (
            row is None
            or row.revoked
            or row.expires <= now
            or row.env != env.id
            or claims is None
            or claims.get("environment_id") != env.id
        ):
            raise Rejected("missing or invalid session", status=401)
        return row

    def _issuer_url(self, base_url: str, env: Environment) -> str:
        return f"{base_url.rstrip('/')}/sdk/{env.id}"

    # -- endpoints ------------------------------------------------------------------------

    def signin(self, env_id: str, body: bytes, *, base_url: str) -> Reply:
        env = self.environment(env_id)
        decoded = self._token_member(body, env)
        now = self.clock()
        self.validator.check_signature(decoded, env)
        if self.config.has("signin_aud_ignored"):  # the shape flaw: aud not compared here
            env = dataclasses.replace(env, audience=None)
        subject = self.validator.signin_claims(decoded, env, now=now)
        if self.config.has("signin_subject_folded"):  # the shape flaw: users by folded sub
            subject = unicodedata.normalize("NFKC", subject).strip(" \t\r\n\x00").casefold()
        self.single_use(decoded.claims, env, now=now)
        sid = str(uuid.uuid4())
        user_id = str(uuid.uuid5(_USER_NS, f"{env.id}\x00{subject}"))
        expires = now + float(self.config.session_ttl_s)
        token = self.issuer.sign(
            {
                "iss": self._issuer_url(base_url, env),
                "sub": user_id,
                "sid": sid,
                "environment_id": env.id,
                "iat": int(now),
                "exp": int(expires),
                "jti": str(uuid.uuid4()),
            },
            typ=SESSION_TYP,
        )
        self.store.add_session(SessionRow(sid, env.id, subject, user_id, int(expires), False))
        expires_at = dt.datetime.fromtimestamp(int(expires), tz=dt.UTC).isoformat()
        return 200, {
            "jwt": token,
            "minifiedJwt": token,
            "expiresAt": expires_at.replace("+00:00", "Z"),
            "user": {
                "id": user_id,
                "environmentId": env.id,
                "verifiedCredentials": [{"format": "externalAuth", "id": subject}],
            },
        }

    def single_use(self, claims: dict[str, Any], env: Environment, *, now: float) -> None:
        """A ``jti`` that is present is single use, on the calls where the documentation
        requires none (sign-in and the other shapes): a replay is refused."""
        if "jti" not in claims:
            return
        jti = self.validator.jti_of(claims)
        if jti is None:
            return  # the jti_not_checked flaw
        exp = claims.get("exp")
        try:
            until = (
                float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else 0.0
            )
        except OverflowError:
            until = 0.0
        if not math.isfinite(until) or until <= now:
            until = now + float(self.config.max_assertion_lifetime_s)
        if not self.store.record_jti(env.id, jti, expires=until + self.validator.leeway, now=now):
            raise Rejected("token already used")

    def verify(
        self, env_id: str, authorization: str | None, body: bytes, *, base_url: str
    ) -> Reply:
        env = self.environment(env_id)
        session = self.session(env, authorization)
        status = self.config.refusal_status
        if status is None:
            return self._verify(env, session, body, base_url=base_url)
        try:
            return self._verify(env, session, body, base_url=base_url)
        except Rejected as rejected:
            # The refusal_status variants: one status for every refused assertion.
            rejected.status = status
            raise

    def _verify(
        self, env: Environment, session: SessionRow, body: bytes, *, base_url: str
    ) -> Reply:
        decoded = self._token_member(body, env)
        now = self.clock()
        validator, has = self.validator, self.config.has
        if has("own_tokens_accepted"):
            own = self._own_token(body, now)
            if own is not None:
                return self._issue(env, session, own, base_url=base_url, now=now, exp=None)
        if has("jti_burned_by_rejects"):
            early = decoded.claims.get("jti")
            if isinstance(early, str) and early:
                keep = now + float(self.config.max_assertion_lifetime_s) + validator.leeway
                if not self.store.record_jti(env.id, early, expires=keep, now=now):
                    raise Rejected("assertion already used")
        validator.check_signature(decoded, env)
        grant = validator.assertion_claims(decoded, env, now=now)
        if not has("sub_not_compared"):
            same = (
                grant.subject.casefold() == session.subject.casefold()
                if has("sub_case_insensitive")
                else grant.subject == session.subject
            )
            if not same:
                raise Rejected("subject does not match the session", status=403)
        if has("jti_prototype_names") and grant.jti in PROTOTYPE_NAMES:
            pass  # a plain-object store: these names are "there" yet never stored
        elif grant.jti is not None and not has("jti_burned_by_rejects"):
            if has("jti_race"):
                if self.store.jti_seen(env.id, grant.jti, now=now):
                    raise Rejected("assertion already used")
                time.sleep(RACE_PAUSE_S)  # the window a careless check-then-set leaves open
                self.store.put_jti(env.id, grant.jti, expires=grant.keep_until)
            elif not self.store.record_jti(env.id, grant.jti, expires=grant.keep_until, now=now):
                raise Rejected("assertion already used")
            if has("jti_store_bounded"):
                self.store.keep_newest_jtis(env.id, BOUNDED_JTIS)
        exp = decoded.claims.get("exp") if has("token_exp_from_assertion") else None
        return self._issue(env, session, grant.scopes, base_url=base_url, now=now, exp=exp)

    def _own_token(self, body: bytes, now: float) -> tuple[str, ...] | None:
        """The ``own_tokens_accepted`` flaw: the scopes of one of our own tokens sent as
        the assertion (a session token grants the first known scope), else ``None``."""
        token = self._body(body).get("jwt")
        if not isinstance(token, str):
            return None
        for typ in (ELEVATED_TYP, SESSION_TYP):
            claims = self.issuer.verify(token, now=now, typ=typ)
            if claims is not None:
                scope = claims.get("scope")
                if isinstance(scope, str) and scope:
                    return tuple(scope.split(" "))
                return (self.config.known_scopes[0],)
        return None

    def _issue(
        self,
        env: Environment,
        session: SessionRow,
        requested: tuple[str, ...],
        *,
        base_url: str,
        now: float,
        exp: Any,
    ) -> Reply:
        """Issue the elevated token for ``requested`` scopes (``exp``: the assertion's, for
        the ``token_exp_from_assertion`` flaw)."""
        has = self.config.has
        self._verifies += 1
        if self._verifies % PURGE_EVERY == 0:
            self.store.purge(now)
        scopes = self.config.known_scopes if has("broad_token") else requested
        ttl = LONG_LIVED_S if has("long_lived_token") else float(self.config.elevated_ttl_s)
        iat = int(now)
        if isinstance(exp, int | float) and not isinstance(exp, bool) and exp > iat:
            ttl = min(float(exp) - iat, LONG_LIVED_S)  # the flaw: the assertion's lifetime
        jti = str(uuid.uuid4())
        token = self.issuer.sign(
            {
                "iss": self._issuer_url(base_url, env),
                "sub": session.subject,
                "environment_id": env.id,
                "sid": session.sid,
                "scope": " ".join(scopes),
                "iat": iat,
                "exp": iat + int(ttl),
                "jti": jti,
                "singleUse": True,
            },
            typ=ELEVATED_TYP,
        )
        self.store.add_elevated(jti, sid=session.sid, scopes=tuple(scopes), expires=iat + ttl)
        return 200, {"elevatedAccessToken": token}

    def step_up_check(self, env_id: str, authorization: str | None, body: bytes) -> Reply:
        env = self.environment(env_id)
        session = self.session(env, authorization)
        scope = self._body(body).get("scope")
        if not isinstance(scope, str) or not scope:
            raise Rejected("scope must be a non-empty string", status=400)
        if self.store.has_unused_elevated(session.sid, scope, now=self.clock()):
            return 200, {"isRequired": False, "credentials": []}
        return 200, {
            "isRequired": True,
            "credentials": [{"id": "external-auth", "type": "externalAuth"}],
            "defaultCredentialId": "external-auth",
        }

    def operation(
        self, env_id: str, scope: str, authorization: str | None, elevated: str | None
    ) -> Reply:
        env = self.environment(env_id)
        session = self.session(env, authorization)
        if not elevated and self.config.has("operation_without_token"):
            return 200, {"ok": True, "scope": scope}  # the flaw: no header, no check
        claims = (
            self.issuer.verify(elevated, now=self.clock(), typ=ELEVATED_TYP) if elevated else None
        )
        if (
            claims is None
            or claims.get("sid") != session.sid
            or claims.get("environment_id") != env.id
            or claims.get("sub") != session.subject
            or not isinstance(claims.get("scope"), str)
            or scope not in str(claims["scope"]).split(" ")
            or not isinstance(claims.get("jti"), str)
        ):
            raise Rejected("elevated access token invalid for this operation", status=403)
        if not self.config.has("token_reusable") and not self.store.use_elevated(claims["jti"]):
            raise Rejected("elevated access token already used", status=403)
        return 200, {"ok": True, "scope": scope}

    def logout(self, env_id: str, authorization: str | None) -> Reply:
        env = self.environment(env_id)
        session = self.session(env, authorization)
        if not self.config.has("logout_not_enforced"):
            self.store.revoke_session(session.sid)
        return 204, None
