"""The template target keeps the secrets it sends out of its evidence, whatever their
shape: the credentials a run configuration gives a profile (a Basic authorization's
param, a param declared ``secret``), and the bearers a target chose that are sent back
to it (a session token, an elevated token) in a URL, a body field or a header — even
where a hostile target echoes them in its answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance._profile import Profile, parse_profile
from conformance._redact import scrub
from conformance._settings import TargetSettings
from conformance._transport import Transport, TransportPolicy
from conformance.targets.base import Exchange, ExchangeRequest, Session
from conformance.targets.template import TemplateTarget

PROFILE = """
[profile]
name = "leaky"
description = "a profile that sends secrets"
source = "test"

[params.base_url]
kind = "url"

[params.basic_auth]
required = false

[params.api_key]
required = false
secret = true

[request]
url = "{base_url}/exchange"
headers = { authorization = "Basic {basic_auth}", x-api-key = "{api_key}" }
fields = { jwt = "{assertion}" }

[session]
kind = "supplied"

[operations.logout]
url = "{base_url}/logout/{session_token}"
fields = { session = "{session_token}" }

[classify]
token = "token"
"""


def _echo(request: httpx.Request) -> httpx.Response:
    """A hostile target: every answer repeats what it was sent."""
    shown = {"url": str(request.url), "headers": dict(request.headers)}
    shown["body"] = request.content.decode()
    return httpx.Response(401, json=shown)


def _target(values: dict[str, str], **kwargs: Any) -> TemplateTarget:
    profile: Profile = parse_profile(tomllib.loads(PROFILE), source="leaky.toml")
    client = httpx.Client(transport=httpx.MockTransport(_echo))
    transport = Transport(client, TransportPolicy(retries=0, rate_limit_per_s=1000))
    settings = TargetSettings(issuer="https://issuer.test")
    return TemplateTarget(profile, settings, transport, values, **kwargs)


def _shown(exchange: Exchange) -> str:
    """Every recorded field of ``exchange`` as the outputs write it (scrubbed)."""
    fields = [exchange.url, exchange.request_body, exchange.response_body]
    fields += [json.dumps(exchange.request_headers), json.dumps(exchange.response_headers)]
    return scrub("\n".join(fields), limit=1 << 20)


def test_configured_credentials_never_reach_the_evidence() -> None:
    # short and word-like: a target-chosen value of this shape would not be remembered
    basic = "cHJvajpwYXNz" + uuid.uuid4().hex[:4]
    api_key = "key-" + uuid.uuid4().hex[:6]
    target = _target({"base_url": "http://127.0.0.1:9", "basic_auth": basic, "api_key": api_key})
    exchange = target.exchange(ExchangeRequest(assertion="t"))
    assert exchange.status == 401
    sent = json.loads(exchange.raw_response_body)["headers"]
    assert sent["authorization"] == f"Basic {basic}" and sent["x-api-key"] == api_key
    shown = _shown(exchange)
    assert basic not in shown and api_key not in shown


def test_a_session_token_sent_in_a_url_or_a_field_is_redacted() -> None:
    # a word-like token the target chose (never remembered run-wide)
    token = f"session-of-alice-{uuid.uuid4().hex[:2]}"
    target = _target({"base_url": "http://127.0.0.1:9"})
    exchange = target.logout(Session(subject="alice", token=token))
    assert token in json.loads(exchange.raw_response_body)["url"]  # it was sent
    assert token not in _shown(exchange)


@pytest.mark.slow
def test_a_secret_param_in_the_url_stays_out_of_the_results(tmp_path: Path) -> None:
    """The target's description (``run.target`` of results.json) carries the rendered
    request URL: a secret param in it is redacted there as in every exchange."""
    from acme_server import running
    from cryptography.hazmat.primitives import serialization
    from test_profiles import acme_toml

    from conformance._jwks_host import JwksHost
    from conformance._keyring import Keyring

    api_key = f"acme-key-{uuid.uuid4().hex[:6]}"
    profile = (
        acme_toml()
        .replace('url = "{base_url}/exchange"', 'url = "{base_url}/exchange?key={api_key}"')
        .replace('aud = "token_url"', 'aud = "required"')  # Acme's URL, without the key
    )
    (tmp_path / "acme.toml").write_text(profile + "\n[params.api_key]\nsecret = true\n")
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
        running("https://customer.example", host.jwks_url) as acme,
    ):
        (tmp_path / "run.toml").write_text(
            f"""[target]
profile_file = "acme.toml"
base_url = "{acme.url.removesuffix("/exchange")}"
api_key = "{api_key}"
audience = "{acme.url}"
issuer = "https://customer.example"
subjects = ["alice", "bob"]

[[target.keys]]
kid = "{key.kid}"
alg = "ES256"
private_key = "key.pem"
"""
        )
        out = tmp_path / "out"
        # a child process: an in-process run leaves sockets for later tests to collect
        root = Path(__file__).resolve().parent.parent
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance",
                "run",
                "--config",
                str(tmp_path / "run.toml"),
                "--no-report",
                "--report-dir",
                str(out),
                "--id",
                "envelope.valid.baseline",
            ],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    text = (out / "results.json").read_text()
    data = json.loads(text)
    assert [c["verdict"] for c in data["cases"]] == ["pass"]
    assert "/exchange?key=" in data["run"]["target"]["url"]
    assert api_key not in text


def test_a_token_at_the_documented_path_is_hidden_whatever_the_status() -> None:
    """``classify.issued`` decides what counts as issued, not what is a secret: a token
    (and a ``classify.secrets`` member) in an answer of another status is still cut from
    its record, in place (word-like here, so nothing remembered run-wide)."""
    text = MINIMAL_ISSUED.replace('token = "data.jwt"', 'token = "data.jwt"\nissued = [200]')
    profile = parse_profile(tomllib.loads(text), source="m.toml")
    token, refresh = f"word-token-{uuid.uuid4().hex[:4]}", f"word-refresh-{uuid.uuid4().hex[:4]}"
    answers = iter(
        [
            httpx.Response(201, json={"data": {"jwt": token}, "refresh": refresh}),
            httpx.Response(400, json={"data": {"jwt": token}, "refresh": refresh}),
        ]
    )
    client = httpx.Client(transport=httpx.MockTransport(lambda r: next(answers)))
    transport = Transport(client, TransportPolicy(retries=0, rate_limit_per_s=1000))
    target = TemplateTarget(
        profile,
        TargetSettings(issuer="https://i.test"),
        transport,
        {"base_url": "http://127.0.0.1:9"},
    )
    created, refused = (target.exchange(ExchangeRequest(assertion="t")) for _ in range(2))
    assert created.issued_token is None and created.misbehaved  # not issued: 201 is not listed
    assert refused.rejected
    for exchange in (created, refused):
        assert token in exchange.raw_response_body
        assert token not in _shown(exchange) and refresh not in _shown(exchange)


MINIMAL_ISSUED = """
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
token = "data.jwt"
secrets = ["refresh"]
"""
