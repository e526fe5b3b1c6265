"""The RFC 7523 profile against panva/oidc-provider, an OpenID Certified server.

A second independent implementation next to the Authlib endpoint of test_rfc7523.py,
installed from the npm registry (tests/oidc_provider/package.json pins it) and run with
Node on a loopback port: one confidential client authenticating with ``private_key_jwt``
(RFC 7523 §2.2) for the client_credentials grant, with a single RS256 key — the most
ordinary set-up there is. The whole RFC 7523 plan runs against it; every ``fail`` and
every ``error`` is a pinned finding with its explanation below, never waved away, and
the suite itself must not err (no "could not run").

Skips (with the reason) where Node or npm is missing or the package cannot be installed.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance._config import load_run_config
from conformance._configured import open_configured
from conformance._engine import CaseResult, run_case
from conformance._keyring import make_key, private_jwk
from conformance._selection import select_cases
from conformance.catalog import CASES

pytestmark = pytest.mark.slow

SERVER = Path(__file__).resolve().parent / "oidc_provider"
CLIENT = "conformance-client"

#: What oidc-provider does that a correct RFC 7523 endpoint must not, by case id →
#: (final verdict, why). None: with single RS256 client key it refuses every forged,
#: altered, expired and misbound assertion of the plan (9.13.3).
FINDINGS: dict[str, tuple[str, str]] = {}

#: What it allows that the suite flags as hardening: visible warnings, never silence and
#: never a failure (docs/levels.md). A sample, each with the reason it is only a should.
WARNINGS: dict[str, str] = {
    "time.exp.future_1year": "RFC 7523 §3 item 4: a bound on exp is a MAY",
    "time.iat.future_1hour": "iat age is hardening: the trusted signer dated it",
    # a float iat ten minutes ahead is a valid NumericDate: oidc-provider compares iat with
    # the clock only when exp is absent
    "claims.type.iat.float_future": "iat age is hardening: the trusted signer dated it",
    "time.nbf.after_exp": "no RFC MUST orders nbf before exp",
    "envelope.rfc7523.two_methods_secret": "a second client auth method is ignored (N07)",
    "encoding.noncanonical.signature": "lenient base64url: the signature still verifies",
    "header.kid.integer": "a non-string kid next to the one trusted key's signature",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def token_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("needs Node.js and npm (apt-get install nodejs npm)")
    if not (SERVER / "node_modules" / "oidc-provider").is_dir():
        install = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=SERVER,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if install.returncode != 0:
            pytest.skip(f"npm could not install oidc-provider: {install.stderr.strip()[-300:]}")
    key = make_key("RS256", kid="client-key")
    home = tmp_path_factory.mktemp("oidc")
    (home / "client.jwk").write_text(json.dumps(private_jwk(key)))
    port = _free_port()
    jwks = json.dumps({"keys": [dict(key.public_jwk)]})
    proc = subprocess.Popen(
        [node, str(SERVER / "server.mjs"), str(port), CLIENT, jwks],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("listening "), f"oidc-provider did not start: {first!r}"
        yield f"http://127.0.0.1:{port}/token", home
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def results(token_url: tuple[str, Path]) -> dict[str, CaseResult]:
    url, home = token_url
    config_path = home / "oidc.toml"
    config_path.write_text(
        f"""
[target]
profile = "rfc7523"
token_url = "{url}"
client_id = "{CLIENT}"
mode = "client_assertion"
scope = "api:read"

[[target.keys]]
private_key = "client.jwk"

[transport]
retries = 0
rate_limit_per_s = 1000
"""
    )
    config = load_run_config(config_path, cwd=home)
    assert config is not None
    with open_configured(config) as runtime:
        return {case.id: run_case(runtime, case) for case in select_cases(CASES, profile="rfc7523")}


def test_a_valid_client_assertion_gets_a_token(results: dict[str, CaseResult]) -> None:
    assert results["envelope.valid.baseline"].verdict == "pass"


def test_the_suite_itself_never_errs(results: dict[str, CaseResult]) -> None:
    broken = {i: r.message for i, r in results.items() if "could not run" in r.message}
    assert not broken, broken


def test_what_it_allows_shows_as_warnings(results: dict[str, CaseResult]) -> None:
    got = {i: (results[i].judged, results[i].verdict) for i in WARNINGS}
    assert got == dict.fromkeys(WARNINGS, ("fail", "warn"))


def test_every_failure_and_error_is_a_pinned_finding(results: dict[str, CaseResult]) -> None:
    found = {i: r.verdict for i, r in results.items() if r.verdict in {"fail", "error"}}
    pinned = {i: verdict for i, (verdict, _) in FINDINGS.items()}
    assert found == pinned, {
        i: results[i].message[:200] for i in set(found) ^ set(pinned) if i in results
    }
