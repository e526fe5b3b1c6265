"""A target that speaks a declarative profile (``docs/profiles.md``).

:class:`TemplateTarget` implements the :class:`~.base.Target` seam from a loaded
:class:`~conformance._profile.Profile`: the request, the sign-in, the calls around an
exchange and the classification of answers all come from the profile's templates. It
sends through :class:`~conformance._transport.Transport` and keeps evidence with
:func:`~._evidence.evidence` exactly as the hand-written adapters do (issued tokens and
bearers redacted, bodies bounded, race copies on connections of their own).

It reports the profile's base semantics as :attr:`profile` (``dynamic`` or ``rfc7523``,
with ``mode`` in :attr:`description`), so that the catalog's per-profile data and the
recipes that read the description apply; the profile's own name is
``description["profile_name"]``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from .._profile import BASE_DEFAULTS
from .._redact import header_credentials, remember_secret
from .._settings import TargetSettings
from .._transport import Transport
from ._evidence import evidence, is_loopback
from .base import Exchange, ExchangeRequest, Session, Unsendable, not_offered, parse_json

if TYPE_CHECKING:
    import httpx

    from .._profile import Profile, RequestSpec

__all__ = ["SignInSigner", "TemplateTarget", "json_at", "render", "render_url"]

#: Signs the claims of a sign-in JWT with the customer's registered key.
SignInSigner = Callable[[Mapping[str, Any]], str]
#: The statuses the transport always treats as "slow down".
_RETRIED = frozenset({429, 503})


#: the placeholder of the assertion in a template
ASSERTION_SLOT = "{assertion}"
#: a header value HTTP/1.1 can carry (h11's field-value rule, in ASCII)
_HEADER_VALUE = re.compile(r"[^\x00\s]+(?:[ \t]+[^\x00\s]+)*", re.ASCII)


def _header_safe(value: str) -> bool:
    return value.isascii() and _HEADER_VALUE.fullmatch(value) is not None


def json_at(data: Any, path: str) -> Any:
    """The value at dotted ``path`` of parsed JSON ``data``, or ``None`` (never raises).
    A part of digits indexes an array (``user.verifiedCredentials.0.id``)."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def render(template: str, values: Mapping[str, str | None]) -> str | None:
    """``template`` with its placeholders replaced by ``values``; ``None`` when one it
    names is absent or empty (the header or field is then left out)."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if not value:
            return None
        out.append(value)
    return "".join(out)


def render_url(profile: Profile, template: str, values: Mapping[str, str | None]) -> str | None:
    """``template`` rendered as a URL: values percent-encoded, except ``url`` and
    ``path`` params of ``profile`` (a ``path`` param may hold ``{scope}``, rendered
    first); ``None`` when a placeholder it names has no value."""
    encoded: dict[str, str | None] = {}
    scope = values.get("scope")
    for name, value in values.items():
        param = profile.params.get(name)
        if value is None:
            encoded[name] = None
        elif param is not None and param.kind == "url":
            encoded[name] = value
        elif param is not None and param.kind == "path":
            inner = {"scope": quote(scope, safe=":") if scope else None}
            encoded[name] = render(value, inner) if "{" in value else value
        elif name == "scope":
            encoded[name] = quote(value, safe=":")
        else:
            encoded[name] = quote(value, safe="")
    return render(template, encoded)


class TemplateTarget:
    """The exchange and its companions as ``profile`` describes them."""

    def __init__(
        self,
        profile: Profile,
        settings: TargetSettings,
        transport: Transport,
        values: Mapping[str, str],
        *,
        sign_in_signer: SignInSigner | None = None,
        session_tokens: Mapping[str, str] | None = None,
        unjudged: frozenset[str] | None = None,
    ) -> None:
        self.spec = profile
        self.profile = profile.base
        self.settings = settings
        self.transport = transport
        #: the params and [target] values templates use (no secrets here)
        self.values = dict(values)
        self._signer = sign_in_signer
        self._session_tokens = dict(session_tokens or {})
        for token in self._session_tokens.values():
            remember_secret(token)
        for secret in self._configured_secrets():
            remember_secret(secret)
        self.last_sign_in: Exchange | None = None
        self.supplied_subjects = frozenset(self._session_tokens)
        url = self._url(profile.request, self.values) or ""
        self.is_loopback = is_loopback(url)
        self.capabilities = frozenset(self._offered())
        description: dict[str, Any] = {
            "profile": self.profile,
            "profile_name": profile.name,
            "profile_source": profile.source,
            "url": url,
            "token_path": profile.classify.token,
            "aud_form": profile.claims.aud_form,
            "key_source": profile.keys.source,
            # request fields that must agree with a claim, for the cases that break one
            "binding": [
                {"field": b.field, "claim": b.claim, "relation": b.relation}
                for b in profile.binding
            ],
            "issuer": settings.issuer,
            "audience": settings.audience,
        }
        if profile.mode is not None:
            description["mode"] = profile.mode
            description["token_url"] = url
            description["client_id"] = self.values.get("client_id")
            description["audience_kind"] = (
                "issuer" if profile.claims.aud == "issuer" else "token_url"
            )
        if profile.classify.subject:
            description["subject_path"] = profile.classify.subject
        if unjudged is not None:
            # the property oracle's rules the contract does not define (_contract.unjudged)
            description["unjudged_rules"] = sorted(unjudged)
        if (
            profile.issued.format == "opaque"
            and BASE_DEFAULTS[profile.semantics]["issued_format"] != "opaque"
        ):
            # the contract departs from its base: the cases that decode the token skip
            description["issued_format"] = "opaque"
        elif (
            profile.issued.format == "jwt"
            and profile.issued.checks != BASE_DEFAULTS[profile.semantics]["issued_checks"]
        ):
            # what is judged of the decoded token ([issued] checks): the cases that read
            # its claims for another check skip (catalog.authoring.issued_claims)
            description["issued_checks"] = list(profile.issued.checks)
        for name in ("base_url", "environment_id"):
            if name in self.values:
                description[name] = self.values[name]
        self.description: Mapping[str, Any] = description

    def _configured_secrets(self) -> list[str]:
        """The credentials the run configuration gives the templates, remembered whatever
        their shape (they are ours, not the target's): the values of ``secret`` params,
        and what a credential header (authorization, cookie, ...) carries once the
        configured values are in (a Basic authorization's param)."""
        spec = self.spec
        found = [
            value
            for name, param in spec.params.items()
            if param.secret and (value := self.values.get(name))
        ]
        calls = [spec.request, *spec.operations.values()]
        if spec.session.request is not None:
            calls.append(spec.session.request)
        for call in calls:
            rendered = {name: render(t, self.values) for name, t in call.headers.items()}
            found += header_credentials((n, v) for n, v in rendered.items() if v is not None)
        return found

    def _offered(self) -> set[str]:
        spec = self.spec
        offered = {"races"}
        session = spec.session
        if session.kind != "none" and (
            self._session_tokens or (session.kind == "sign_in" and self._signer is not None)
        ):
            offered.add("sessions")
        if session.request is not None:
            offered.add("sign_in")
        names = {"logout": "logout", "step_up_check": "step_up_check"}
        names["sensitive"] = "sensitive_operation"
        for operation, capability in names.items():
            call = spec.operations.get(operation)
            per_call = {"scope": "x", "elevated_token": "x", "session_token": "x"}
            if call is not None and self._url(call, {**self.values, **per_call}):
                offered.add(capability)
        if spec.issued.jwks_url and self._render_url(spec.issued.jwks_url, self.values):
            offered.add("token_jwks")
        if spec.classify.subject:
            offered.add("reports_subject")
        return offered

    @property
    def retries(self) -> int:
        return self.transport.retry_count

    # -- rendering -------------------------------------------------------------------
    def _url(self, call: RequestSpec, values: Mapping[str, str | None]) -> str | None:
        return render_url(self.spec, call.url, values)

    def _render_url(self, template: str, values: Mapping[str, str | None]) -> str | None:
        return render_url(self.spec, template, values)

    def _values(
        self, request: ExchangeRequest | None, **extra: str | None
    ) -> dict[str, str | None]:
        values: dict[str, str | None] = dict(self.values)
        values["uuid"] = uuid.uuid4().hex
        values["now"] = str(int(time.time()))
        session = request.session if request is not None else None
        if session is not None:
            values["session_token"] = session.token
            values["subject"] = session.subject
            values["user_id"] = session.user_id
            if session.environment_id:
                values["environment_id"] = session.environment_id
        if request is not None:
            values["assertion"] = request.assertion
            if request.environment_id:
                values["environment_id"] = request.environment_id
        values.update(extra)
        return values

    def _body(
        self,
        call: RequestSpec,
        values: Mapping[str, str | None],
        edits: Mapping[str, str | None],
    ) -> bytes:
        members: dict[str, str | None] = {}
        for name, template in call.fields.items():
            members[name] = render(template, values)
        if call is self.spec.request:
            for binding in self.spec.binding:
                members[binding.field] = render(binding.value, values)
        members.update(edits)
        kept = {k: v for k, v in members.items() if v is not None}
        if call.body == "form":
            return urlencode(kept).encode("ascii")
        if call.body == "none":
            return b""
        obj: dict[str, Any] = dict(kept)
        for part in reversed(call.nest.split(".") if call.nest else []):
            obj = {part: obj}
        return json.dumps(obj).encode()

    def _headers(
        self,
        call: RequestSpec,
        values: Mapping[str, str | None],
        content_type: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        kind = content_type or call.content_type
        if kind:
            headers["content-type"] = kind
        for name, template in call.headers.items():
            value = render(template, values)
            if value is None:
                continue
            if ASSERTION_SLOT in template and not _header_safe(value):
                raise Unsendable(
                    f"the {self.spec.name} profile carries the assertion in the {name} "
                    "header, where this one cannot go (a line break, a control or non-ASCII "
                    "character, or edge whitespace): nothing was sent"
                )
            headers[name] = value
        headers.update(extra or {})
        return headers

    # -- sending ---------------------------------------------------------------------
    def _call(
        self,
        call: RequestSpec,
        values: Mapping[str, str | None],
        *,
        label: str,
        body: bytes,
        headers: dict[str, str],
        assertion: str | None = None,
        token_path: str | None = None,
        subject_path: str | None = None,
        client: httpx.Client | None = None,
    ) -> Exchange:
        url = self._url(call, values) or ""
        raw = self.transport.request(
            call.method,
            url,
            headers=headers,
            content=body if call.method != "GET" or body else None,
            client=client,
            throttle=client is None,
        )
        classify = self.spec.classify
        issued = subject = None
        found: list[str] = []
        # the bearers the target chose, sent back to it: never shown, whatever their shape
        hidden = [v for k in ("session_token", "elevated_token") if (v := values.get(k))]
        if token_path and raw.body:
            data = parse_json(raw.body)
            value = json_at(data, token_path)
            token = value if isinstance(value, str) and value else None
            if subject_path and raw.status in classify.issued:
                named = json_at(data, subject_path)
                subject = named if isinstance(named, str) else None
            members = [
                secret
                for path in classify.secrets
                if isinstance(secret := json_at(data, path), str) and secret
            ]
            if raw.status in classify.issued:
                # values the target chose: redacted from this answer's record, remembered
                # for the run only when shaped like a credential (evidence: a word would
                # be cut from the whole report)
                issued = token
                found += members
            else:
                # not issued by the profile's classification, still no evidence to show
                # (redacted here only; an echo of the assertion stays evidence)
                hidden += [v for v in (token, *members) if v and v != assertion]
        exchange = evidence(
            label,
            call.method,
            url,
            headers,
            body,
            raw,
            assertion=assertion,
            issued=issued,
            secrets=found,
            hidden=hidden,
        )
        if subject is not None:
            exchange = dataclasses.replace(exchange, subject=subject)
        if assertion is not None and any(ASSERTION_SLOT in t for t in call.headers.values()):
            exchange = dataclasses.replace(exchange, assertion_in_header=True)
        return self._classified(exchange, exchange_call=token_path is not None)

    def _classified(self, exchange: Exchange, *, exchange_call: bool = True) -> Exchange:
        """A rate-limit status (any call), or a 4xx the profile does not call a refusal
        (an exchange or a sign-in: ``classify.refused`` is about those), proves nothing:
        recorded with an error saying so (never a clean refusal). A 431 refuses an
        assertion that travelled in a header (it is what was too large)."""
        status = exchange.status
        if status is None or exchange.error is not None:
            return exchange
        classify = self.spec.classify
        if status in classify.rate_limited and status not in _RETRIED:
            note = f"status {status} means rate limited (classify.rate_limited)"
        elif status == 431 and exchange.assertion_in_header:
            return exchange
        elif exchange_call and 400 <= status < 500 and status not in classify.refused:
            note = f"status {status} is not a refusal (not in classify.refused)"
        else:
            return exchange
        return dataclasses.replace(exchange, error=note)

    def _send(self, request: ExchangeRequest, client: httpx.Client | None = None) -> Exchange:
        call = self.spec.request
        values = self._values(request)
        if request.raw_body is not None:
            body = request.raw_body
        else:
            body = self._body(call, values, request.fields)
        return self._call(
            call,
            values,
            label=request.label,
            body=body,
            headers=self._headers(call, values, request.content_type, request.headers),
            assertion=request.assertion,
            token_path=self.spec.classify.token,
            subject_path=self.spec.classify.subject,
            client=client,
        )

    # -- Target ----------------------------------------------------------------------
    def exchange(self, request: ExchangeRequest) -> Exchange:
        return self._send(request)

    def race(self, request: ExchangeRequest, copies: int) -> list[Exchange]:
        return self.transport.burst(copies, lambda client: self._send(request, client))

    def sign_in(self, subject: str, *, environment_id: str | None = None) -> Session | None:
        if "sessions" not in self.capabilities:
            raise not_offered(self, "sessions")
        env = environment_id or self.values.get("environment_id")
        if subject in self._session_tokens:
            return Session(subject=subject, token=self._session_tokens[subject], environment_id=env)
        call = self.spec.session.request
        if self._signer is None or call is None:
            return None  # only supplied sessions, and none for this subject
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": subject,
            "iat": now,
            "exp": now + self.spec.session.lifetime_s,
            "jti": uuid.uuid4().hex,
        }
        if self.settings.audience:
            claims["aud"] = self.settings.audience
        jwt = self._signer(claims)
        values = self._values(None, assertion=jwt, subject=subject)
        if environment_id:
            values["environment_id"] = environment_id
        exchange = self._call(
            call,
            values,
            label="sign-in",
            body=self._body(call, values, {}),
            headers=self._headers(call, values),
            token_path=self.spec.session.token,
        )
        self.last_sign_in = exchange
        if not exchange.accepted or exchange.issued_token is None:
            return None
        user_id = None
        if self.spec.session.user_id:
            found = json_at(exchange.json(), self.spec.session.user_id)
            user_id = found if isinstance(found, str) else None
        return Session(
            subject=subject, token=exchange.issued_token, user_id=user_id, environment_id=env
        )

    def sign_in_exchange(self, request: ExchangeRequest) -> Exchange:
        call = self.spec.session.request
        if call is None:
            raise not_offered(self, "sign_in")
        values = self._values(dataclasses.replace(request, session=None))
        return self._call(
            call,
            values,
            label=request.label,
            body=self._body(call, values, {}),
            headers=self._headers(call, values, extra=request.headers),
            assertion=request.assertion,
            token_path=self.spec.session.token,
        )

    def _operation(
        self, name: str, session: Session, *, label: str, **extra: str | None
    ) -> Exchange:
        call = self.spec.operations.get(name)
        capability = "sensitive_operation" if name == "sensitive" else name
        if call is None or capability not in self.capabilities:
            raise not_offered(self, capability)
        values = self._values(None, **extra)
        values.update(session_token=session.token, subject=session.subject)
        values["user_id"] = session.user_id
        if session.environment_id:
            values["environment_id"] = session.environment_id
        return self._call(
            call,
            values,
            label=label,
            body=self._body(call, values, {}),
            headers=self._headers(call, values),
        )

    def logout(self, session: Session) -> Exchange:
        return self._operation("logout", session, label="logout")

    def step_up_check(
        self, session: Session, scope: str, *, label: str = "step-up check"
    ) -> Exchange:
        return self._operation("step_up_check", session, label=label, scope=scope)

    def sensitive_operation(
        self, session: Session, elevated_token: str, scope: str, *, label: str = "operation"
    ) -> Exchange:
        return self._operation(
            "sensitive", session, label=label, scope=scope, elevated_token=elevated_token
        )

    def token_jwks(self) -> Mapping[str, Any] | None:
        template = self.spec.issued.jwks_url
        url = self._render_url(template, self.values) if template else None
        if url is None:
            raise not_offered(self, "token_jwks")
        raw = self.transport.request("GET", url, headers={}, content=None)
        if raw.status != 200:
            return None
        data = parse_json(raw.body)
        return data if isinstance(data, dict) else None

    def close(self) -> None:
        self.transport.client.close()
