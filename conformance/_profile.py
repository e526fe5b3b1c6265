"""Declarative profiles: a TOML file that describes an exchange endpoint without code.

:func:`load_profile` reads one file (a user's, or a shipped one by :func:`shipped`) into
a :class:`Profile`: how a request is sent (:class:`RequestSpec`), how a session is had,
the calls around an exchange, what the documentation promises about claims, keys,
binding and replay, and how an answer is classified. The format is documented in
``docs/profiles.md``; :mod:`conformance.targets.template` speaks a loaded profile and
:mod:`conformance._contract` turns its promises into the catalog's semantics.

Every mistake raises :class:`ConfigError` with one line naming the file, the dotted key
and what was expected.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._settings import ALLOWED_ALGS
from ._toml_reader import Reader, kind, read_toml

__all__ = [
    "BASE_DEFAULTS",
    "COMMON_TARGET_KEYS",
    "SEMANTICS",
    "BindingSpec",
    "ClaimsSpec",
    "ClassifySpec",
    "IssuedSpec",
    "KeysSpec",
    "ParamSpec",
    "Profile",
    "RequestSpec",
    "SessionSpec",
    "load_profile",
    "parse_profile",
    "shipped",
    "shipped_names",
]

FORMAT = 1
#: The catalog's base rules a profile can build on (``catalog/profiles.py`` keys).
SEMANTICS = ("dynamic", "rfc7523/client_assertion", "rfc7523/jwt_bearer")
METHODS = ("POST", "PUT", "PATCH", "GET")
BODIES = ("json", "form", "none")
CONTENT_TYPES: Mapping[str, str | None] = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "none": None,
}
PARAM_KINDS = ("string", "url", "uuid", "path")
SESSION_KINDS = ("none", "supplied", "sign_in")
OPERATIONS = ("logout", "step_up_check", "sensitive")
ISS_RULES = ("exact", "absent")
AUD_RULES = ("optional", "required", "token_url", "issuer", "absent")
AUD_FORMS = ("string", "array")
SUB_BINDINGS = ("session_user", "client_id", "none")
EXP_BOUNDS = ("required", "optional")
KEY_SOURCES = ("jwks_url", "registered", "x5c")
RELATIONS = ("equal", "sha256")
REPLAY_POLICIES = ("reject", "unspecified", "allowed")
ISSUED_FORMATS = ("jwt", "opaque")
#: What can be judged of a decoded issued token (``_contract.ISSUED_CHECK_CASES`` names
#: the cases of each): its signature, its lifetime, whom it names, its scope, and the
#: single-use promise (a ``singleUse`` flag, a fresh token per exchange).
ISSUED_CHECKS = ("signature", "lifetime", "subject", "scope", "single_use")
#: Placeholders every template may use, besides the profile's ``[params]``.
BUILTIN_PLACEHOLDERS = frozenset(
    {
        "assertion",
        "session_token",
        "user_id",
        "subject",
        "client_id",
        "issuer",
        "audience",
        "uuid",
        "now",
        "scope",
        "elevated_token",
    }
)
#: ``[target]`` keys every kind of target takes (the run configuration's).
COMMON_TARGET_KEYS = (
    "profile",
    "audience",
    "scopes",
    "subjects",
    "known_scopes",
    "leeway_s",
    "max_token_lifetime_s",
    "max_assertion_lifetime_s",
    "keys",
    "policy",
)
#: ``[target]`` keys of the run configuration that a ``[params]`` name may not take.
RESERVED_TARGET_KEYS = frozenset(
    {*COMMON_TARGET_KEYS, "profile_file", "issuer", "session_tokens", "params"}
)
#: built-in placeholders a param may also be named: ``client_id`` (it then gets a kind
#: and a description), ``scope`` (a form parameter; in ``[operations]`` ``{scope}`` is
#: the guarded scope)
_PARAM_NAMES_OK = frozenset({"client_id", "scope"})
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_PARAM_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
#: A path read from an answer: its later parts may also be array indices (``user.ids.0``).
_READ_PATH_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.([A-Za-z_][A-Za-z0-9_-]*|[0-9]+))*$")
_TABLES = (
    "profile",
    "params",
    "request",
    "session",
    "operations",
    "claims",
    "keys",
    "binding",
    "replay",
    "classify",
    "issued",
)
_REQUEST_KEYS = ("method", "url", "body", "content_type", "headers", "fields", "nest")
_DEFAULT_REFUSED = tuple(s for s in range(400, 500) if s not in (408, 429, 431))


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A value the run configuration supplies as a ``[target]`` key."""

    name: str
    kind: str = "string"
    required: bool = True
    default: str | None = None
    description: str = ""
    #: a credential (an API key, a client secret): never shown in any output
    secret: bool = False


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One HTTP call described by templates (``[request]``, ``[session.request]``,
    ``[operations.NAME]``)."""

    url: str
    method: str = "POST"
    body: str = "json"
    content_type: str | None = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    nest: str | None = None

    @property
    def placeholders(self) -> frozenset[str]:
        """Every placeholder its templates name."""
        texts = [self.url, *self.headers.values(), *self.fields.values()]
        return frozenset(name for text in texts for name in placeholders(text))


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """How a session is had: ``none``, ``supplied`` bearers, or a ``sign_in`` call."""

    kind: str = "none"
    request: RequestSpec | None = None
    token: str = "jwt"
    user_id: str | None = None
    lifetime_s: int = 300


@dataclass(frozen=True, slots=True)
class ClaimsSpec:
    """What the assertion carries and the documentation requires."""

    required: tuple[str, ...]
    iss: str = "exact"
    aud: str = "optional"
    aud_form: str = "string"
    sub: str = "session_user"
    scope: bool = True
    exp_bound: str = "required"
    max_lifetime_s: int | None = None
    leeway_s: int | None = None


@dataclass(frozen=True, slots=True)
class KeysSpec:
    algs: tuple[str, ...] = ALLOWED_ALGS
    kid_required: bool = False
    source: str = "jwks_url"


@dataclass(frozen=True, slots=True)
class BindingSpec:
    """A request field that must agree with a claim of the assertion."""

    field: str
    value: str
    claim: str
    relation: str = "equal"


@dataclass(frozen=True, slots=True)
class ClassifySpec:
    token: str
    issued: tuple[int, ...] = tuple(range(200, 300))
    refused: tuple[int, ...] = _DEFAULT_REFUSED
    rate_limited: tuple[int, ...] = (429,)
    secrets: tuple[str, ...] = ()
    #: where an issued answer names whom the token (or session) is for: the subject
    #: cases compare it with the assertion's ``sub``
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedSpec:
    format: str = "jwt"
    checks: tuple[str, ...] = ISSUED_CHECKS
    jwks_url: str | None = None
    max_lifetime_s: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """A loaded profile file (``docs/profiles.md``)."""

    name: str
    description: str
    source: str
    semantics: str
    request: RequestSpec
    claims: ClaimsSpec
    classify: ClassifySpec
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    session: SessionSpec = field(default_factory=SessionSpec)
    operations: Mapping[str, RequestSpec] = field(default_factory=dict)
    keys: KeysSpec = field(default_factory=KeysSpec)
    binding: tuple[BindingSpec, ...] = ()
    replay: str = "reject"
    issued: IssuedSpec = field(default_factory=IssuedSpec)
    #: where it was read from (a path, or ``shipped:NAME``)
    origin: str = ""

    @property
    def base(self) -> str:
        """The catalog profile of its semantics: ``dynamic`` or ``rfc7523``."""
        return self.semantics.split("/", 1)[0]

    @property
    def mode(self) -> str | None:
        """The RFC 7523 mode of its semantics, or ``None``."""
        _, _, mode = self.semantics.partition("/")
        return mode or None


#: The contract each base semantics documents: what an absent key means, and what a
#: profile's key is compared with to find its overrides (``_contract.py``).
BASE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "dynamic": {
        "required": ("sub", "exp", "jti", "scope"),
        "iss": "exact",
        "aud": "optional",
        "sub": "session_user",
        "scope": True,
        "exp_bound": "required",
        "replay": "reject",
        "issued_format": "jwt",
        "issued_checks": ISSUED_CHECKS,
    },
    "rfc7523/client_assertion": {
        "required": ("iss", "sub", "aud", "exp"),
        "iss": "exact",
        "aud": "token_url",
        "sub": "client_id",
        "scope": False,
        "exp_bound": "optional",
        "replay": "unspecified",
        "issued_format": "opaque",
        # the grant's token is decoded where it is a JWT: its subject is the assertion's
        # (claims.rfc7523.issued_subject); no other check is written for these bases
        "issued_checks": ("subject",),
    },
    "rfc7523/jwt_bearer": {
        "required": ("iss", "sub", "aud", "exp"),
        "iss": "exact",
        "aud": "token_url",
        "sub": "none",
        "scope": False,
        "exp_bound": "optional",
        "replay": "unspecified",
        "issued_format": "opaque",
        # the grant's token is decoded where it is a JWT: its subject is the assertion's
        # (claims.rfc7523.issued_subject); no other check is written for these bases
        "issued_checks": ("subject",),
    },
}


# -- templates ---------------------------------------------------------------------------


def placeholders(template: str) -> list[str]:
    """The ``{name}`` placeholders of ``template`` (``{{``/``}}`` are literal braces).
    Raises ``ValueError`` for a malformed template."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not _PARAM_RE.match(name) or spec or conversion:
            raise ValueError(f"{{{name}}} is not a placeholder (use {{name}}, {{{{ for a brace)")
        names.append(name)
    return names


# -- loading -----------------------------------------------------------------------------


def shipped_names() -> tuple[str, ...]:
    """The names of the profiles shipped in ``conformance/profiles``."""
    folder = resources.files("conformance") / "profiles"
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))
    )


def shipped(name: str) -> Profile:
    """The shipped profile ``name``; raises :class:`ConfigError` naming the shipped ones
    when there is none."""
    names = shipped_names()
    if name not in names:
        raise ConfigError(
            f"unknown profile {name!r}; shipped profiles: {', '.join(names)} "
            "(or give your own file with [target] profile_file)"
        )
    text = (resources.files("conformance") / "profiles" / f"{name}.toml").read_text("utf-8")
    import tomllib  # lazy: parsing shipped text (files go through read_toml)

    profile = parse_profile(tomllib.loads(text), source=f"shipped profile {name}.toml")
    if profile.name != name:
        raise ConfigError(f"shipped profile {name}.toml: profile.name is {profile.name!r}")
    return profile


def load_profile(path: Path) -> Profile:
    """The profile in the TOML file at ``path`` (see ``docs/profiles.md``)."""
    return parse_profile(read_toml(path, "profile file"), source=str(path))


def parse_profile(data: Mapping[str, Any], *, source: str) -> Profile:
    """A :class:`Profile` from a parsed TOML document; ``source`` names it in errors."""
    root = Reader(data, "", source)
    root.only(_TABLES)
    for table in _TABLES:
        if table != "binding":
            root.table_at(table)
    if "profile" not in data:
        raise ConfigError(f"{source}: missing [profile] table (name, description, source)")
    head = Reader(root.table_at("profile"), "profile", source)
    head.only(("name", "description", "source", "semantics", "format"))
    name = head.need("name", "the profile's name, e.g. acme")
    if not _NAME_RE.match(name):
        raise head.error("name", f"must match [a-z][a-z0-9_-]*, not {name!r}")
    description = head.need("description", "one line: what endpoint this is")
    if "\n" in description:
        raise head.error("description", "must be one line")
    origin = head.need("source", "where the contract is documented (a URL)")
    semantics = head.choice("semantics", SEMANTICS, "dynamic")
    head.integer("format", FORMAT, minimum=FORMAT, maximum=FORMAT)
    base = BASE_DEFAULTS[semantics]

    params = _params(Reader(root.table_at("params"), "params", source))
    known = BUILTIN_PLACEHOLDERS | set(params)
    if "request" not in data:
        raise ConfigError(f"{source}: missing [request] table (url, body, fields)")
    request = _request(Reader(root.table_at("request"), "request", source), known)
    if "assertion" not in request.placeholders:
        raise ConfigError(
            f'{source}: request must carry "{{assertion}}" in a field or a header '
            '(e.g. fields = { jwt = "{assertion}" })'
        )
    session = _session(Reader(root.table_at("session"), "session", source), known)
    operations = _operations(Reader(root.table_at("operations"), "operations", source), known)
    if "sensitive" in operations and session.kind == "none":
        raise ConfigError(f"{source}: operations.sensitive needs a session (set session.kind)")

    claims = _claims(Reader(root.table_at("claims"), "claims", source), base)
    if claims.scope and semantics != "dynamic":
        raise ConfigError(
            f'{source}: claims.scope = true needs semantics = "dynamic" (the scope cases '
            "are written for a scope claim the target enforces)"
        )
    keys = _keys(Reader(root.table_at("keys"), "keys", source))
    binding = _binding(root, known)
    replay_reader = Reader(root.table_at("replay"), "replay", source)
    replay_reader.only(("policy",))
    replay = replay_reader.choice("policy", REPLAY_POLICIES, base["replay"])
    if "classify" not in data:
        raise ConfigError(f"{source}: missing [classify] table (token: where the issued token is)")
    classify = _classify(Reader(root.table_at("classify"), "classify", source))
    issued = _issued(Reader(root.table_at("issued"), "issued", source), base, known, semantics)
    return Profile(
        name=name,
        description=description,
        source=origin,
        semantics=semantics,
        request=request,
        claims=claims,
        classify=classify,
        params=params,
        session=session,
        operations=operations,
        keys=keys,
        binding=binding,
        replay=replay,
        issued=issued,
        origin=source,
    )


def _params(reader: Reader) -> dict[str, ParamSpec]:
    params: dict[str, ParamSpec] = {}
    for name in reader.table:
        if not _PARAM_RE.match(name):
            raise reader.error(name, "must be a name matching [a-z][a-z0-9_]*")
        if name in RESERVED_TARGET_KEYS or name in BUILTIN_PLACEHOLDERS - _PARAM_NAMES_OK:
            raise reader.error(name, "is a reserved [target] key or placeholder; rename it")
        entry = Reader(reader.table_at(name), reader.name(name), reader.source)
        entry.only(("kind", "required", "default", "description", "secret"))
        default = entry.string("default")
        params[name] = ParamSpec(
            name=name,
            kind=entry.choice("kind", PARAM_KINDS, "string"),
            required=entry.boolean("required", default is None),
            default=default,
            description=entry.string("description", "") or "",
            secret=entry.boolean("secret", False),
        )
    return params


def _templates(reader: Reader, key: str, known: frozenset[str] | set[str]) -> dict[str, str]:
    table = Reader(reader.table_at(key), reader.name(key), reader.source)
    out: dict[str, str] = {}
    for name, value in table.table.items():
        if not isinstance(value, str):
            raise table.error(name, f"must be a string template, not {kind(value)}")
        _check_template(table, name, value, known)
        out[name] = value
    return out


def _check_template(reader: Reader, key: str, value: str, known: frozenset[str] | set[str]) -> None:
    try:
        names = placeholders(value)
    except ValueError as exc:
        raise reader.error(key, str(exc)) from None
    unknown = [n for n in names if n not in known]
    if unknown:
        raise reader.error(
            key,
            f"names unknown placeholder {{{unknown[0]}}} (declare it under [params] "
            "or use a built-in one, docs/profiles.md#placeholders)",
        )


def _request(reader: Reader, known: frozenset[str] | set[str]) -> RequestSpec:
    reader.only(_REQUEST_KEYS)
    url = reader.need("url", 'a URL template, e.g. "{base_url}/exchange"')
    _check_template(reader, "url", url, known)
    if not url.startswith("{") and not url.startswith(("http://", "https://")):
        raise reader.error("url", "must start with http(s):// or a url placeholder like {base_url}")
    body = reader.choice("body", BODIES, "json")
    fields = _templates(reader, "fields", known)
    if body == "none" and fields:
        raise reader.error("fields", 'must be empty with body = "none"')
    nest = reader.string("nest")
    if nest is not None and (body != "json" or not _PATH_RE.match(nest)):
        raise reader.error("nest", 'must be a dotted name (e.g. "data"), with body = "json" only')
    headers = {k.lower(): v for k, v in _templates(reader, "headers", known).items()}
    return RequestSpec(
        url=url,
        method=reader.choice("method", METHODS, "POST"),
        body=body,
        content_type=reader.string("content_type", CONTENT_TYPES[body]),
        headers=headers,
        fields=fields,
        nest=nest,
    )


def _session(reader: Reader, known: frozenset[str] | set[str]) -> SessionSpec:
    reader.only(("kind", "request", "token", "user_id", "lifetime_s"))
    session_kind = reader.choice("kind", SESSION_KINDS, "none")
    request = None
    if session_kind == "sign_in":
        if not reader.has("request"):
            raise ConfigError(
                f'{reader.source}: missing session.request (kind = "sign_in" needs the '
                "sign-in call: url, body, fields)"
            )
        sub = Reader(reader.table_at("request"), reader.name("request"), reader.source)
        request = _request(sub, known)
    elif reader.has("request"):
        raise reader.error("request", 'is used only with kind = "sign_in"')
    return SessionSpec(
        kind=session_kind,
        request=request,
        token=_json_path(reader, "token", "jwt") or "jwt",
        user_id=_json_path(reader, "user_id", None),
        lifetime_s=reader.integer("lifetime_s", 300, minimum=10, maximum=86_400),
    )


def _operations(reader: Reader, known: frozenset[str] | set[str]) -> dict[str, RequestSpec]:
    reader.only(OPERATIONS)
    return {
        name: _request(Reader(reader.table_at(name), reader.name(name), reader.source), known)
        for name in reader.table
    }


def _names(reader: Reader, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key in reader.table and reader.table[key] == []:
        return ()
    return reader.strings(key, default)


def _claims(reader: Reader, base: Mapping[str, Any]) -> ClaimsSpec:
    reader.only(
        (
            "required",
            "iss",
            "aud",
            "aud_form",
            "sub",
            "scope",
            "exp_bound",
            "max_lifetime_s",
            "leeway_s",
        )
    )
    return ClaimsSpec(
        required=_names(reader, "required", base["required"]),
        iss=reader.choice("iss", ISS_RULES, base["iss"]),
        aud=reader.choice("aud", AUD_RULES, base["aud"]),
        aud_form=reader.choice("aud_form", AUD_FORMS, "string"),
        sub=reader.choice("sub", SUB_BINDINGS, base["sub"]),
        scope=reader.boolean("scope", base["scope"]),
        exp_bound=reader.choice("exp_bound", EXP_BOUNDS, base["exp_bound"]),
        max_lifetime_s=reader.declared("max_lifetime_s", minimum=1),
        leeway_s=reader.declared("leeway_s", maximum=86_400),
    )


def _keys(reader: Reader) -> KeysSpec:
    reader.only(("algs", "kid_required", "source"))
    algs = reader.strings("algs", ALLOWED_ALGS)
    for alg in algs:
        if alg not in ALLOWED_ALGS:
            raise reader.error("algs", f"names {alg!r}; choose from {', '.join(ALLOWED_ALGS)}")
    return KeysSpec(
        algs=algs,
        kid_required=reader.boolean("kid_required", False),
        source=reader.choice("source", KEY_SOURCES, "jwks_url"),
    )


def _binding(root: Reader, known: frozenset[str] | set[str]) -> tuple[BindingSpec, ...]:
    raw = root.table.get("binding", [])
    if not isinstance(raw, list):
        raise root.error("binding", "must be an array of tables ([[binding]])")
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise root.error(f"binding[{i}]", f"must be a table, not {kind(entry)}")
        reader = Reader(entry, f"binding[{i}]", root.source)
        reader.only(("field", "value", "claim", "relation"))
        value = reader.need("value", "the field's template, e.g. {session_public_key}")
        _check_template(reader, "value", value, known)
        out.append(
            BindingSpec(
                field=reader.need("field", "the request field that must agree"),
                value=value,
                claim=reader.need("claim", "the assertion claim it must agree with"),
                relation=reader.choice("relation", RELATIONS, "equal"),
            )
        )
    return tuple(out)


def _statuses(
    reader: Reader, key: str, default: tuple[int, ...], low: int, high: int
) -> tuple[int, ...]:
    if key not in reader.table:
        return default
    value = reader.table[key]
    if (
        not isinstance(value, list)
        or not value
        or not all(type(v) is int and low <= v <= high for v in value)
    ):
        raise reader.error(key, f"must be a non-empty array of statuses from {low} to {high}")
    return tuple(value)


def _json_path(reader: Reader, key: str, default: str | None) -> str | None:
    value = reader.string(key, default)
    if value is not None and not _READ_PATH_RE.match(value):
        raise reader.error(key, f'must be a dotted JSON path like "data.jwt", not {value!r}')
    return value


def _classify(reader: Reader) -> ClassifySpec:
    reader.only(("issued", "token", "refused", "rate_limited", "secrets", "subject"))
    token = _json_path(reader, "token", None)
    if token is None:
        raise ConfigError(
            f"{reader.source}: missing classify.token (the JSON path of the issued token, "
            'e.g. "access_token")'
        )
    secrets = reader.strings("secrets", ())
    for path in secrets:
        if not _READ_PATH_RE.match(path):
            raise reader.error("secrets", f"holds {path!r}, which is not a dotted JSON path")
    return ClassifySpec(
        token=token,
        issued=_statuses(reader, "issued", tuple(range(200, 300)), 200, 299),
        refused=_statuses(reader, "refused", _DEFAULT_REFUSED, 400, 499),
        rate_limited=_statuses(reader, "rate_limited", (429,), 400, 599),
        secrets=secrets,
        subject=_json_path(reader, "subject", None),
    )


def _issued(
    reader: Reader, base: Mapping[str, Any], known: frozenset[str] | set[str], semantics: str
) -> IssuedSpec:
    reader.only(("format", "checks", "jwks_url", "max_lifetime_s"))
    token_format = reader.choice("format", ISSUED_FORMATS, base["issued_format"])
    judged: tuple[str, ...] = base["issued_checks"]
    checks = _names(reader, "checks", judged if token_format == "jwt" else ())
    for check in checks:
        if check not in ISSUED_CHECKS:
            raise reader.error("checks", f"names {check!r}; choose from {', '.join(ISSUED_CHECKS)}")
    if token_format == "opaque" and checks:
        # every check reads the token's header or claims: refused here rather than
        # skipped later, so that the file says what is judged
        raise reader.error(
            "checks",
            f'names {checks[0]!r}, which needs a decoded token: with format = "opaque" '
            'leave checks out, or set format = "jwt"',
        )
    beyond = [check for check in checks if check not in judged]
    if beyond:
        raise reader.error(
            "checks",
            f'names {beyond[0]!r}, which semantics = "{semantics}" does not judge '
            f'(choose from {", ".join(judged)}; the other checks are written for "dynamic")',
        )
    jwks_url = reader.string("jwks_url")
    if jwks_url is not None:
        _check_template(reader, "jwks_url", jwks_url, known)
    return IssuedSpec(
        format=token_format,
        checks=checks,
        jwks_url=jwks_url,
        max_lifetime_s=reader.declared("max_lifetime_s", minimum=1),
    )
