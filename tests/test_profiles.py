"""Declarative profiles (docs/profiles.md): the loader, the contract's semantics, the
template target, the shipped files' identity with the adapters, the CLI, and a profile
written from scratch for a server the suite has never seen."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import cli
from conformance._config import load_run_config
from conformance._contract import overrides, unjudged, with_contract
from conformance._exceptions import ConfigError
from conformance._oracle import unjudged_rules
from conformance._profile import Profile, load_profile, parse_profile, shipped, shipped_names
from conformance._settings import TargetSettings
from conformance._transport import Transport, TransportPolicy
from conformance.catalog import BY_ID, CASES
from conformance.catalog.authoring import Expect, Level
from conformance.targets.base import ExchangeRequest, Session
from conformance.targets.dynamic import DynamicTarget
from conformance.targets.rfc7523 import Rfc7523Options, Rfc7523Target
from conformance.targets.template import TemplateTarget

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "profiles.md"


def acme_toml() -> str:
    """The worked example of docs/profiles.md, exactly as the page shows it."""
    section = DOC.read_text(encoding="utf-8").split("## Worked example", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


MINIMAL = """
[profile]
name = "mini"
description = "a minimal profile"
source = "test"

[params.base_url]
kind = "url"

[request]
url = "{base_url}/exchange"
fields = { jwt = "{assertion}" }

[classify]
token = "token"
"""


def parsed(text: str) -> Profile:
    return parse_profile(tomllib.loads(text), source="mini.toml")


# -- the loader: one line naming the file, the key and what was expected ----------------


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda t: t.replace("[profile]", "[profil]"), "unknown key profil"),
        (lambda t: t.replace('name = "mini"', 'name = "Mini!"'), "profile.name must match"),
        (lambda t: t.replace('source = "test"\n', ""), "missing profile.source"),
        (lambda t: t + "[profile.x]\n", "unknown key profile.x"),
        (
            lambda t: t.replace('source = "test"', 'source = "test"\nsemantics = "oauth"'),
            "profile.semantics must be one of dynamic, rfc7523/client_assertion",
        ),
        (
            lambda t: t.replace("[request]", '[request]\nbody = "xml"'),
            "request.body must be one of json, form, none, not 'xml'",
        ),
        (lambda t: t.replace("[request]", "[request]\nbogus = 1"), "unknown key request.bogus"),
        (lambda t: t.replace('"{assertion}"', '"x"'), 'request must carry "{assertion}"'),
        (
            lambda t: t.replace('"{assertion}"', '"{tenant}"'),
            "request.fields.jwt names unknown placeholder {tenant}",
        ),
        (lambda t: t.replace('"{assertion}"', '"{assertion!r}"'), "is not a placeholder"),
        (
            lambda t: t.replace("{base_url}/exchange", "exchange"),
            "request.url must start with http(s)://",
        ),
        (
            lambda t: t.replace("fields = { jwt", "fields = { jwt = 1, x"),
            "request.fields.jwt must be a string template, not an integer",
        ),
        (lambda t: t + '[session]\nkind = "sign_in"\n', "missing session.request"),
        (
            lambda t: t + '[session]\nkind = "maybe"\n',
            "session.kind must be one of none, supplied, sign_in",
        ),
        (lambda t: t.split("[classify]")[0], "missing [classify] table"),
        (
            lambda t: t.replace('token = "token"', 'token = "a..b"'),
            "classify.token must be a dotted JSON path",
        ),
        (
            lambda t: t + "issued = [404]\n",
            "classify.issued must be a non-empty array of statuses from 200 to 299",
        ),
        (lambda t: t + '[keys]\nalgs = ["HS256"]\n', "keys.algs names 'HS256'"),
        (
            lambda t: t + '[replay]\npolicy = "sometimes"\n',
            "replay.policy must be one of reject, unspecified, allowed",
        ),
        (
            lambda t: t + '[claims]\nscope = "no"\n',
            "claims.scope must be true or false, not a string",
        ),
        (
            lambda t: t + '[claims]\nsub = "user"\n',
            "claims.sub must be one of session_user, client_id, none",
        ),
        (lambda t: t + "[params.issuer]\n", "params.issuer is a reserved [target] key"),
        (
            lambda t: (
                t.replace('source = "test"', 'source = "t"\nsemantics = "rfc7523/jwt_bearer"')
                + "[claims]\nscope = true\n"
            ),
            'claims.scope = true needs semantics = "dynamic"',
        ),
        (lambda t: t + '[[binding]]\nfield = "k"\nclaim = "c"\n', "missing binding[0].value"),
        (
            lambda t: t + '[operations.delete]\nurl = "{base_url}"\n',
            "unknown key operations.delete",
        ),
        (
            lambda t: t + '[operations.sensitive]\nurl = "{base_url}/op"\n',
            "operations.sensitive needs a session",
        ),
    ],
)
def test_a_mistake_is_one_line_naming_the_file_and_the_key(
    change: Callable[[str], str], needle: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parsed(change(MINIMAL))
    message = str(info.value)
    assert message.startswith("mini.toml: ") and "\n" not in message
    assert needle in message


def test_a_file_that_cannot_be_read_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"profile file .*missing.toml does not exist"):
        load_profile(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[profile\n")
    with pytest.raises(ConfigError, match=r"profile file .*broken.toml is not valid TOML"):
        load_profile(broken)
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match=r"profile file .*deep.toml nests .* too deeply"):
        load_profile(deep)


def test_defaults_come_from_the_base_semantics() -> None:
    mini = parsed(MINIMAL)
    assert mini.semantics == "dynamic" and mini.replay == "reject" and mini.claims.scope
    grant = parsed(
        MINIMAL.replace('source = "test"', 'source = "t"\nsemantics = "rfc7523/jwt_bearer"')
    )
    assert grant.replay == "unspecified" and grant.claims.sub == "none"
    assert not grant.claims.scope and grant.issued.format == "opaque"


def test_every_shipped_profile_loads_and_unknown_names_list_them() -> None:
    assert set(shipped_names()) >= {"dynamic", "rfc7523", "rfc7523-jwt-bearer"}
    for name in shipped_names():
        assert shipped(name).name == name
    with pytest.raises(ConfigError, match=r"unknown profile 'acme'; shipped profiles: .*dynamic"):
        shipped("acme")


# -- semantics from the contract ---------------------------------------------------------


def _semantics(cases: Any, key: str) -> dict[str, tuple[Any, Any, Any]]:
    return {c.id: (c.expectation(key), c.level_for(key), c.skip_reason(key)) for c in cases}


@pytest.mark.parametrize("name", ["dynamic", "rfc7523", "rfc7523-jwt-bearer"])
def test_the_shipped_files_reproduce_the_catalogs_profile_data(name: str) -> None:
    profile = shipped(name)
    assert not overrides(profile), "a shipped file departs from its base's contract"
    assert _semantics(with_contract(CASES, profile), profile.semantics) == _semantics(
        CASES, profile.semantics
    )
    assert unjudged(profile) == unjudged_rules(profile.semantics)


def _variant(name: str, **tables: str) -> Profile:
    text = (ROOT / "conformance" / "profiles" / f"{name}.toml").read_text()
    data = tomllib.loads(text)
    for table, body in tables.items():
        data[table] = {**data.get(table, {}), **tomllib.loads(body)}
    return parse_profile(data, source="variant.toml")


def _judged(profile: Profile, case_id: str) -> tuple[Expect, Level, str | None]:
    case = next(c for c in with_contract(CASES, profile) if c.id == case_id)
    key = profile.semantics
    return case.expectation(key), case.level_for(key), case.skip_reason(key)


def test_replay_policy_decides_the_replay_cases() -> None:
    assert _judged(shipped("dynamic"), "replay.same_token.twice")[:2] == (Expect.REJECT, Level.MUST)
    silent = _variant("dynamic", replay='policy = "unspecified"')
    assert _judged(silent, "replay.same_token.twice")[:2] == (Expect.REJECT, Level.SHOULD)
    reuse = _variant("dynamic", replay='policy = "allowed"')
    assert "documents reuse" in (_judged(reuse, "replay.same_token.twice")[2] or "")
    promised = _variant("rfc7523", replay='policy = "reject"')
    assert _judged(promised, "replay.same_jti.resigned")[:2] == (Expect.REJECT, Level.MUST)


def test_claims_contract_decides_scope_subject_and_iss_cases() -> None:
    no_scope = _variant("dynamic", claims="scope = false")
    assert "no scope claim" in (_judged(no_scope, "scope.value.missing")[2] or "")
    assert _judged(no_scope, "claims.kind.id_token")[0] is Expect.EITHER
    assert _judged(shipped("dynamic"), "claims.kind.id_token")[0] is Expect.REJECT
    unbound = _variant("dynamic", claims='sub = "none"')
    assert "binds no subject" in (_judged(unbound, "claims.sub.other_user")[2] or "")
    assert _judged(shipped("rfc7523-jwt-bearer"), "claims.sub.other_user")[2]
    bound = _variant("rfc7523-jwt-bearer", claims='sub = "client_id"')
    assert _judged(bound, "claims.sub.other_user")[2] is None
    assert _judged(bound, "claims.sub.type_number")[1] is BY_ID["claims.sub.type_number"].level
    iss = _variant("dynamic", claims='required = ["iss", "sub", "exp", "jti", "scope"]')
    assert _judged(shipped("dynamic"), "claims.iss.missing")[1] is Level.SHOULD
    assert _judged(iss, "claims.iss.missing")[1] is Level.MUST
    assert "iss_missing" not in unjudged(iss)
    no_iss = _variant("rfc7523", claims='required = ["sub", "aud", "exp"]')
    assert _judged(no_iss, "claims.iss.missing")[1] is Level.SHOULD
    assert "iss_missing" in unjudged(no_iss)


def test_lifetime_and_issued_token_contract() -> None:
    bounded = _variant("dynamic", claims="max_lifetime_s = 600")
    assert _judged(shipped("dynamic"), "time.lifetime.over_max")[1] is Level.SHOULD
    assert _judged(bounded, "time.lifetime.over_max")[1] is Level.MUST
    lax = _variant("dynamic", claims='exp_bound = "optional"')
    assert _judged(lax, "time.exp.value_int63")[1] is Level.SHOULD
    kid = _variant("dynamic", keys="kid_required = true")
    assert _judged(shipped("dynamic"), "keys.no_kid.single_candidate")[0] is Expect.ACCEPT
    assert _judged(kid, "keys.no_kid.single_candidate")[:2] == (Expect.REJECT, Level.SHOULD)
    opaque = _variant("dynamic", issued='format = "opaque"\nchecks = []')
    assert "opaque" in (_judged(opaque, "issued.token.is_jws")[2] or "")


def test_raw_body_cases_skip_for_another_wire_shape() -> None:
    assert _judged(shipped("dynamic"), "envelope.body.jwt_missing")[2] is None
    other = parse_profile(tomllib.loads(acme_toml()), source="acme.toml")
    assert "Dynamic's JSON" in (_judged(other, "envelope.body.jwt_missing")[2] or "")


# -- the template target on a mocked wire ------------------------------------------------


Handler = Callable[[httpx.Request], httpx.Response]


def _target(
    profile: Profile, values: dict[str, str], handler: Handler, **kwargs: Any
) -> TemplateTarget:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    transport = Transport(client, TransportPolicy(retries=0, rate_limit_per_s=1000))
    settings = TargetSettings(issuer="https://issuer.test")
    return TemplateTarget(profile, settings, transport, values, **kwargs)


ENV = "0b7f0c1e-9d0a-4c3e-8f5a-1b2c3d4e5f60"
DYN = {"base_url": "https://api.test/api/v0", "environment_id": ENV}


def test_dynamic_file_sends_what_the_dynamic_adapter_sends() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"elevatedAccessToken": "elevated-secret-token"})

    target = _target(shipped("dynamic"), DYN, handler)
    settings = TargetSettings(base_url=DYN["base_url"], environment_id=ENV, issuer="i")
    adapter = DynamicTarget(settings, target.transport, operation_path="/ops/{scope}")
    session = Session(subject="a", token="session-bearer", environment_id=ENV)
    requests = [
        ExchangeRequest(assertion="a.b.c", session=session),
        ExchangeRequest(assertion="x.y.z", fields={"jwt": None, "extra": "1"}),
        ExchangeRequest(assertion="x", raw_body=b"[]", content_type="text/plain"),
        ExchangeRequest(assertion="x", environment_id="other env", headers={"x-a": "1"}),
    ]
    for request in requests:
        exchange = target.exchange(request)
        adapter.exchange(request)
        mine, theirs = seen[-2], seen[-1]
        assert (str(mine.url), mine.content) == (str(theirs.url), theirs.content)
        assert list(mine.headers.items()) == list(theirs.headers.items())
        assert exchange.accepted and exchange.issued_token == "elevated-secret-token"
        assert "elevated-secret-token" not in exchange.response_body  # redacted evidence
    assert str(seen[0].url) == f"https://api.test/api/v0/sdk/{ENV}/externalAuth/verify"
    assert seen[0].headers["authorization"] == "Bearer session-bearer"
    assert "authorization" not in seen[2].headers  # no session: the header is left out
    assert json.loads(seen[2].content) == {"extra": "1"}
    assert "/sdk/other%20env/" in str(seen[-1].url)
    # the calls around the exchange, too
    target.sign_in_exchange(ExchangeRequest(assertion="s.i.g"))
    adapter.sign_in_exchange(ExchangeRequest(assertion="s.i.g"))
    target.logout(session)
    adapter.logout(session)
    target.step_up_check(session, "wallet:export")
    adapter.step_up_check(session, "wallet:export")
    for mine, theirs in zip(seen[-6::2], seen[-5::2], strict=True):
        assert (str(mine.url), mine.content) == (str(theirs.url), theirs.content)
        assert list(mine.headers.items()) == list(theirs.headers.items())


def test_operations_and_capabilities_follow_the_profile() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    plain = _target(shipped("dynamic"), DYN, handler)
    assert {"logout", "step_up_check", "token_jwks", "races", "sign_in"} <= plain.capabilities
    assert "sensitive_operation" not in plain.capabilities  # no operation_path given
    assert "sessions" not in plain.capabilities  # nothing to sign in with
    with pytest.raises(NotImplementedError):
        plain.sensitive_operation(Session("a", "t"), "tok", "wallet:export")
    full = _target(
        shipped("dynamic"),
        {**DYN, "operation_path": "/ops/{scope}"},
        handler,
        session_tokens={"a": "bearer-a"},
    )
    assert {"sensitive_operation", "sessions"} <= full.capabilities
    session = full.sign_in("a")
    assert session is not None and session.token == "bearer-a"
    full.sensitive_operation(session, "", "wallet:export")
    assert str(seen[-1].url).endswith(f"/sdk/{ENV}/ops/wallet:export")
    assert "x-dyn-elevated-access-token" not in seen[-1].headers  # empty token: no header
    full.step_up_check(session, "wallet:export")
    assert json.loads(seen[-1].content) == {"scope": "wallet:export"}
    grant = _target(
        shipped("rfc7523"), {"token_url": "https://as.test/token", "client_id": "c"}, handler
    )
    assert grant.capabilities == {"races"}
    assert grant.description["mode"] == "client_assertion"
    with pytest.raises(NotImplementedError):
        grant.sign_in("c")


@pytest.mark.parametrize(
    ("name", "mode"), [("rfc7523", "client_assertion"), ("rfc7523-jwt-bearer", "jwt_bearer")]
)
def test_rfc7523_files_send_the_adapters_form(name: str, mode: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "at", "refresh_token": "rt-secret"})

    values = {"token_url": "https://as.test/token", "client_id": "client-1", "scope": "read"}
    target = _target(shipped(name), values, handler)
    options = Rfc7523Options(
        token_url=values["token_url"], client_id="client-1", mode=mode, scope="read"
    )
    adapter = Rfc7523Target(TargetSettings(profile="rfc7523"), target.transport, options)
    for fields in ({}, {"grant_type": None, "client_id": "other"}):
        exchange = target.exchange(ExchangeRequest(assertion="h.p.s", fields=fields))
        adapter.exchange(ExchangeRequest(assertion="h.p.s", fields=fields))
        assert seen[-2].content == seen[-1].content
        assert dict(seen[-2].headers) == dict(seen[-1].headers)
    assert exchange.issued_token == "at" and "rt-secret" not in exchange.response_body


def test_classify_decides_what_counts_as_issued_and_refused() -> None:
    profile = parsed(
        MINIMAL.replace(
            'token = "token"', 'token = "data.jwt"\nrefused = [401, 420]\nrate_limited = [420]'
        )
    )
    answers = iter(
        [
            httpx.Response(200, json={"data": {"jwt": "issued"}}),
            httpx.Response(401, json={"error": "no"}),
            httpx.Response(404, json={"error": "no route"}),
            httpx.Response(200, json={"jwt": "not-where-documented"}),
            httpx.Response(420, json={"error": "calm down"}),
        ]
    )
    target = _target(profile, {"base_url": "http://127.0.0.1:9"}, lambda r: next(answers))
    first, second, third, fourth, fifth = (
        target.exchange(ExchangeRequest(assertion="t")) for _ in range(5)
    )
    assert first.accepted and first.issued_token == "issued"
    assert second.rejected
    assert not third.rejected and "not a refusal" in (third.error or "")
    assert fourth.misbehaved and fourth.issued_token is None
    assert fifth.misbehaved and "rate limited" in (fifth.error or "")


def test_a_rate_limit_the_profile_declares_is_no_refusal_of_an_operation() -> None:
    """``classify.rate_limited`` holds for every call: an operation answered with it
    (a sensitive operation a negative case needs refused) proves nothing."""
    profile = parsed(
        MINIMAL.replace('token = "token"', 'token = "token"\nrate_limited = [420]')
        + '[session]\nkind = "supplied"\n'
        + '[operations.logout]\nurl = "{base_url}/logout"\n'
        + 'headers = { authorization = "Bearer {session_token}" }\n'
    )
    answers = iter([httpx.Response(420, json={"error": "calm down"}), httpx.Response(401)])
    target = _target(
        profile,
        {"base_url": "http://127.0.0.1:9"},
        lambda r: next(answers),
        session_tokens={"alice": "bearer-alice-1"},
    )
    session = target.sign_in("alice")
    assert session is not None
    limited, refused = target.logout(session), target.logout(session)
    assert not limited.rejected and "rate limited" in (limited.error or "")
    assert refused.rejected


def test_generated_values_and_supplied_sessions() -> None:
    profile = parsed(
        MINIMAL.replace(
            'fields = { jwt = "{assertion}" }',
            'fields = { jwt = "{assertion}", nonce = "{uuid}", at = "{now}", who = "{subject}" }',
        )
        + '[session]\nkind = "supplied"\n'
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401)

    values = {"base_url": "http://127.0.0.1:9"}
    assert "sessions" not in _target(profile, values, handler).capabilities  # none supplied
    target = _target(profile, values, handler, session_tokens={"alice": "bearer-alice"})
    assert "sessions" in target.capabilities and target.supplied_subjects == {"alice"}
    assert target.sign_in("bob") is None  # only supplied sessions
    session = target.sign_in("alice")
    assert session is not None
    for _ in range(2):
        target.exchange(ExchangeRequest(assertion="t", session=session))
    first, second = (json.loads(r.content) for r in seen)
    assert first["nonce"] != second["nonce"] and len(first["nonce"]) == 32
    assert first["at"].isdigit() and first["who"] == "alice"
    target.exchange(ExchangeRequest(assertion="t"))
    assert "who" not in json.loads(seen[-1].content)  # no session: no subject


def test_nested_json_header_placement_and_binding_fields() -> None:
    profile = parsed(
        MINIMAL.replace(
            'fields = { jwt = "{assertion}" }',
            'nest = "data"\nfields = { kind = "step-up" }\nheaders = { x-token = "{assertion}" }',
        )
        + '[params.spk]\n[[binding]]\nfield = "sessionPublicKey"\nvalue = "{spk}"\n'
        'claim = "spk_hash"\nrelation = "sha256"\n'
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401)

    target = _target(profile, {"base_url": "http://127.0.0.1:9", "spk": "pk1"}, handler)
    target.exchange(ExchangeRequest(assertion="a.b.c"))
    assert json.loads(seen[0].content) == {"data": {"kind": "step-up", "sessionPublicKey": "pk1"}}
    assert seen[0].headers["x-token"] == "a.b.c"
    assert target.description["binding"] == [
        {"field": "sessionPublicKey", "claim": "spk_hash", "relation": "sha256"}
    ]
    target.exchange(ExchangeRequest(assertion="a.b.c", fields={"sessionPublicKey": "pk2"}))
    assert json.loads(seen[1].content)["data"]["sessionPublicKey"] == "pk2"


# -- the run configuration ---------------------------------------------------------------


def _config_file(tmp_path: Path, body: str) -> Path:
    from conformance._keyring import make_key, private_jwk

    (tmp_path / "k.jwk").write_text(json.dumps(private_jwk(make_key("ES256", kid="k1"))))
    path = tmp_path / "run.toml"
    path.write_text(body + '\n[[target.keys]]\nprivate_key = "k.jwk"\n')
    return path


@pytest.mark.parametrize(
    ("base_url", "needle"),
    [
        ("example.com", "is not an http(s) URL with a host"),
        # percent-encoded (a string param): no scheme either
        ("https://api.example.com", "is not an http(s) URL with a host"),
    ],
)
def test_a_url_a_string_param_fills_is_checked_as_a_url(
    tmp_path: Path, base_url: str, needle: str
) -> None:
    """A ``string`` param (not declared ``kind = "url"``) that fills a URL template: the
    rendered URL meets the rules of a URL key (one line at load, not an unreachable
    target), and is not repeated."""
    (tmp_path / "p.toml").write_text(MINIMAL.replace('kind = "url"', 'kind = "string"'))
    path = _config_file(
        tmp_path, f'[target]\nprofile_file = "p.toml"\nissuer = "i"\nbase_url = "{base_url}"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_run_config(path, cwd=tmp_path)
    message = str(info.value)
    assert needle in message and "request.url" in message and "\n" not in message
    assert base_url not in message


@pytest.mark.parametrize(
    ("body", "profile", "needle"),
    [
        ('[target]\nissuer = "i"\n', "nope", "unknown profile 'nope'; shipped profiles:"),
        (
            '[target]\nissuer = "i"\n',
            "dynamic",
            "missing target.environment_id (the environment's UUID)",
        ),
        (
            f'[target]\nissuer = "i"\nenvironment_id = "{ENV}"\nmode = "x"\n',
            "dynamic",
            "unknown key target.mode",
        ),
        (
            f'[target]\nprofile = "dynamic"\nissuer = "i"\nenvironment_id = "{ENV}"\n',
            "dynamic",
            "target.profile is for the built-in adapters",
        ),
        (
            '[target]\nprofile_file = "p.toml"\nissuer = "i"\n',
            "dynamic",
            "target.profile_file and --profile dynamic both name a profile",
        ),
        ('[target]\nprofile_file = "absent.toml"\nissuer = "i"\n', None, "profile file"),
        ('[target]\ntoken_url = "https://as.test/t"\n', "rfc7523", "missing target.client_id"),
        (
            '[target]\ntoken_url = "https://as.test/t"\nclient_id = "c"\naudience = "x"\n',
            "rfc7523",
            "target.audience is not used",
        ),
        (
            f'[target]\nissuer = "i"\nenvironment_id = "{ENV}"\noperation_path = "/op/{{x}}"\n',
            "dynamic",
            "target.operation_path may hold only the placeholder {scope}",
        ),
        (
            '[target]\nissuer = "i"\nenvironment_id = "not-a-uuid"\n',
            "dynamic",
            "target.environment_id must be a 36-character UUID",
        ),
        (
            '[target]\nissuer = "i"\napp_id = "app-\u00e9t\u00e9"\n',
            "privy-custom-jwt",
            "target.app_id is sent in a header: use printable ASCII only",
        ),
    ],
)
def test_configuration_mistakes_with_a_profile(
    tmp_path: Path, body: str, profile: str | None, needle: str
) -> None:
    path = _config_file(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_run_config(path, cwd=tmp_path, profile=profile)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_a_profile_file_fills_the_settings(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text(acme_toml())
    path = _config_file(
        tmp_path,
        '[target]\nprofile_file = "acme.toml"\nbase_url = "http://127.0.0.1:9"\nissuer = "i"\n',
    )
    config = load_run_config(path, cwd=tmp_path)
    assert config is not None and config.template is not None
    assert config.profile == "dynamic"  # its base semantics
    settings = config.settings
    assert settings.audience == "http://127.0.0.1:9/exchange"  # aud = "token_url"
    assert settings.max_assertion_lifetime_s == 600  # [claims] max_lifetime_s
    assert "sessions" not in settings.capabilities
    assert settings.scope_claim is False  # [claims] scope = false: no scope claim sent


# -- the CLI -----------------------------------------------------------------------------


def test_profiles_lists_the_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in shipped_names():
        assert f"\n{name} " in "\n" + out
    assert "rfc-editor.org/rfc/rfc7523" in out
    assert "[target] keys: issuer, [base_url], environment_id, [operation_path], keys" in out
    assert "[target] keys: [issuer], client_id, token_url, [scope], keys" in out
    assert cli.main(["profiles", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(shipped_names())
    assert all(r["description"] and r["source"] and r["semantics"] for r in rows)
    dynamic = next(r for r in rows if r["name"] == "dynamic")
    assert dynamic["params"]["environment_id"] == {
        "required": True,
        "default": None,
        "kind": "uuid",
        "secret": False,
    }
    stytch = next(r for r in rows if r["name"] == "stytch-attest")
    assert stytch["params"]["basic_auth"]["secret"] is True


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["run", "--profile", "nope", "--config", "CONFIG"],
            "unknown profile 'nope'; shipped profiles: dynamic",
        ),
        (["run", "--profile", "dynamic"], "--profile dynamic needs --config FILE"),
    ],
)
def test_profile_option_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, argv: list[str], needle: str
) -> None:
    config = _config_file(tmp_path, '[target]\nissuer = "i"\n')
    argv = [str(config) if a == "CONFIG" else a for a in argv]
    proc = subprocess.run(
        [sys.executable, "-m", "conformance", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr
    assert "Traceback" not in proc.stderr


# -- identity with the adapters (conformance diff) ---------------------------------------

#: a small selection touching every path a profile changes (CPU: not the whole plan)
IDENTITY_IDS = (
    "envelope.valid.*",
    "envelope.session.*",
    "envelope.body.jwt_*",
    "replay.same_token.twice",
    "replay.race.*",
    "algorithms.none.lowercase.*",
    "claims.sub.other_user",
    "claims.sub.missing",
    "claims.iss.missing",
    "claims.kind.*",
    "scope.value.unknown",
    "time.exp.past_5min",
    "time.exp.value_int63",
    "issued.token.is_jws",
    "issued.response.shape",
    "state_machine.logout.*",
    "claims.rfc7523.*",
    "envelope.rfc7523.*",
    "claims.property.oracle",
)


def _run(
    pytester: pytest.Pytester,
    config: Path,
    out: Path,
    profile: str | None,
    ids: tuple[str, ...] = IDENTITY_IDS,
) -> dict[str, Any]:
    args = [
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        f"--conformance-config={config}",
        "--conformance-no-render",
        f"--conformance-report-dir={out}",
        "--conformance-examples=8",
        "--hypothesis-seed=12345",  # the property cases draw the same examples in both runs
        "-p",
        "no:randomly",
        *(f"--conformance-id={glob}" for glob in ids),
    ]
    if profile is not None:
        args.append(f"--conformance-profile={profile}")
    pytester.runpytest_inprocess(*args)
    return dict(json.loads((out / "results.json").read_text()))


def _assert_identical(adapter: dict[str, Any], template: dict[str, Any]) -> None:
    from conformance.report.diff import diff_results

    diff = diff_results(adapter, template)
    assert diff.empty, diff.to_dict()
    levels = {c["id"]: (c["verdict"], c.get("level")) for c in adapter["cases"]}
    assert levels == {c["id"]: (c["verdict"], c.get("level")) for c in template["cases"]}
    assert any(v == "pass" for v, _ in levels.values())


@pytest.mark.slow
@pytest.mark.parametrize(
    "flaws",
    [(), ("jti_not_checked", "sub_not_compared", "alg_none_accepted")],
    ids=["clean", "three-flaws"],
)
def test_dynamic_file_gives_the_adapters_verdicts_on_the_emulator(
    pytester: pytest.Pytester, tmp_path: Path, flaws: tuple[str, ...]
) -> None:
    from configured_emulator import served_emulator

    home = tmp_path / "emulator"
    home.mkdir()
    with served_emulator(home, ("ES256",), flaws=flaws) as config:
        adapter = _run(pytester, config, tmp_path / "adapter", None)
        template = _run(pytester, config, tmp_path / "template", "dynamic")
    assert template["run"]["target"]["profile_name"] == "dynamic"
    _assert_identical(adapter, template)
    failed = {c["id"] for c in template["cases"] if c["verdict"] == "fail"}
    assert bool(failed) == bool(flaws)
    if flaws:  # each flaw is caught by the profile's run
        assert {"replay.same_token.twice", "claims.sub.other_user"} <= failed
        assert any(i.startswith("algorithms.none.") for i in failed)


#: The cases that judge the issued token ([issued] checks) or use it.
ISSUED_IDS = ("issued.*", "claims.extra.privilege_*")


@pytest.mark.slow
@pytest.mark.parametrize(
    "flaws",
    [(), ("broad_token", "long_lived_token")],
    ids=["clean", "issued-token-flaws"],
)
def test_dynamic_file_judges_the_issued_token_as_the_adapter(
    pytester: pytest.Pytester, tmp_path: Path, flaws: tuple[str, ...]
) -> None:
    """Its [issued] checks (every one, by default) are the adapter's judgements."""
    from configured_emulator import served_emulator

    home = tmp_path / "emulator"
    home.mkdir()
    with served_emulator(home, ("ES256",), flaws=flaws) as config:
        adapter = _run(pytester, config, tmp_path / "adapter", None, ISSUED_IDS)
        template = _run(pytester, config, tmp_path / "template", "dynamic", ISSUED_IDS)
    _assert_identical(adapter, template)
    verdicts = {c["id"]: c["verdict"] for c in template["cases"]}
    assert verdicts["issued.token.verifies"] == "pass"
    failed = {i for i, v in verdicts.items() if v == "fail"}
    if flaws:
        assert {"issued.token.scope_exact", "issued.token.short_lived"} <= failed, failed
    else:
        assert failed == set()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "mode"), [("rfc7523", "client_assertion"), ("rfc7523-jwt-bearer", "jwt_bearer")]
)
def test_rfc7523_files_give_the_adapters_verdicts_on_authlib(
    pytester: pytest.Pytester, tmp_path: Path, name: str, mode: str
) -> None:
    from rfc7523_server import running

    from conformance._keyring import make_key, private_jwk

    key = make_key("ES256", kid="client-key-1")
    (tmp_path / "client.jwk").write_text(json.dumps(private_jwk(key)))
    with running({"conformance-client": {"keys": [dict(key.public_jwk)]}}) as state:
        common = f"""token_url = "{state.token_url}"
client_id = "conformance-client"
leeway_s = 30

[[target.keys]]
private_key = "client.jwk"

[transport]
retries = 0
rate_limit_per_s = 1000
"""
        (tmp_path / "adapter.toml").write_text(
            f'[target]\nprofile = "rfc7523"\nmode = "{mode}"\n{common}'
        )
        (tmp_path / "template.toml").write_text(f"[target]\n{common}")
        adapter = _run(pytester, tmp_path / "adapter.toml", tmp_path / "a", None)
        template = _run(pytester, tmp_path / "template.toml", tmp_path / "t", name)
    _assert_identical(adapter, template)


# -- a profile written from scratch: Acme ------------------------------------------------


def _acme_run(
    pytester: pytest.Pytester,
    tmp_path: Path,
    flaws: tuple[str, ...],
    *,
    strict_claims: bool = False,
    refused: set[str] | None = None,
) -> dict[str, Any]:
    """The whole plan through the Acme profile of docs/profiles.md against Acme; the
    names of the claims a ``strict_claims`` Acme refused are added to ``refused``."""
    from acme_server import running
    from cryptography.hazmat.primitives import serialization

    from conformance._jwks_host import JwksHost
    from conformance._keyring import Keyring

    (tmp_path / "acme.toml").write_text(acme_toml())
    keyring = Keyring(published_algs=("ES256",))
    key = keyring.trusted("ES256")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "key.pem").write_bytes(pem)
    with (
        JwksHost(keyring) as host,
        running(
            "https://customer.example", host.jwks_url, flaws=flaws, strict_claims=strict_claims
        ) as acme,
    ):
        (tmp_path / "run.toml").write_text(
            f"""[target]
profile_file = "acme.toml"
base_url = "{acme.url.removesuffix("/exchange")}"
issuer = "https://customer.example"
subjects = ["alice", "bob"]

[[target.keys]]
kid = "{key.kid}"
alg = "ES256"
private_key = "key.pem"

[transport]
rate_limit_per_s = 1000
"""
        )
        out = tmp_path / "out"
        pytester.runpytest_inprocess(
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            f"--conformance-config={tmp_path / 'run.toml'}",
            "--conformance-no-render",
            f"--conformance-report-dir={out}",
            "--conformance-examples=10",
        )
        if refused is not None:
            refused.update(acme.refused_claims)
    return dict(json.loads((out / "results.json").read_text()))


@pytest.mark.slow
def test_acme_from_scratch_is_clean(pytester: pytest.Pytester, tmp_path: Path) -> None:
    results = _acme_run(pytester, tmp_path, ())
    verdicts = {c["id"]: c["verdict"] for c in results["cases"]}
    assert set(verdicts.values()) <= {"pass", "skip"}, {
        k: v for k, v in verdicts.items() if v not in ("pass", "skip")
    }
    assert verdicts["replay.same_token.twice"] == "pass"
    assert verdicts["claims.iss.missing"] == "pass"
    assert verdicts["scope.value.missing"] == "skip"
    assert verdicts["claims.sub.other_user"] == "skip"
    assert results["run"]["target"]["profile_name"] == "acme"
    assert results["summary"]["verdict"] in ("conformant", "conformant_with_gaps")


@pytest.mark.slow
def test_a_server_refusing_unknown_claims_runs_clean_without_a_scope_claim(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """``[claims] scope = false``: no assertion carries ``scope``, so a server that
    refuses what its documentation does not name takes the valid ones."""
    refused: set[str] = set()
    results = _acme_run(pytester, tmp_path, (), strict_claims=True, refused=refused)
    verdicts = {c["id"]: c["verdict"] for c in results["cases"]}
    troubles = {k: v for k, v in verdicts.items() if v in ("fail", "error")}
    assert troubles == {}, troubles
    assert "scope" not in refused, refused
    # it did refuse the undocumented claims some cases send (the strict policy is live)
    assert {"foo", "bar"} <= refused
    assert verdicts["claims.extra.unknown_claims"] == "warn"  # stricter than needed
    assert verdicts["replay.same_token.twice"] == "pass"
    assert results["summary"]["verdict"] in ("conformant", "conformant_with_gaps")


@pytest.mark.slow
def test_acme_replay_flaw_is_caught(pytester: pytest.Pytester, tmp_path: Path) -> None:
    results = _acme_run(pytester, tmp_path, ("acme_replay",))
    failed = {c["id"] for c in results["cases"] if c["verdict"] == "fail"}
    assert "replay.same_token.twice" in failed
    assert all(i.startswith("replay.") for i in failed), failed
    assert results["summary"]["verdict"] == "not_conformant"


# -- a hostile target: the template is as robust as the adapter --------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["echo", "signin", "worst"])
def test_the_dynamic_file_against_a_hostile_target(tmp_path: Path, mode: str) -> None:
    """The modes of tests/hostile.py that echo secrets, answer a hostile sign-in, or do
    everything at once: the template gives the adapter's verdicts, no traceback, and
    repeats no secret the proxy saw."""
    from hostile import HostileWorld

    cases = ("envelope.valid.baseline", "claims.sub.missing", "replay.same_token.twice")
    outcomes = []
    with HostileWorld(tmp_path) as world:
        for profile in (None, "dynamic"):
            with world.serving() as proxy:
                out = tmp_path / f"out-{profile}"
                command = [
                    sys.executable, "-m", "conformance", "run",
                    "--config", str(world.config(proxy, mode)),
                    "--no-report", "--report-dir", str(out), "--examples", "3",
                    *(arg for case_id in cases for arg in ("--id", case_id)),
                    *(("--profile", profile) if profile else ()),
                ]  # fmt: skip
                done = subprocess.run(command, capture_output=True, timeout=200, cwd=tmp_path)
                secrets = proxy.seen.secrets()
            text = (done.stdout + done.stderr).decode("utf-8", "replace")
            text += "".join((out / n).read_text() for n in ("results.json", "junit.xml"))
            assert "Traceback" not in text
            assert not [s for s in secrets if s and s in text]
            verdicts = {
                c["id"]: c["verdict"]
                for c in json.loads((out / "results.json").read_text())["cases"]
            }
            outcomes.append((done.returncode, verdicts))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][0] in (0, 1)
