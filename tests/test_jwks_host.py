from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography import x509

from conformance._assertion import Assertion
from conformance._http import client
from conformance._jwks_host import FAILURE_MODES, OVERSIZED_BYTES, JwksHost
from conformance._keyring import Keyring

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def host() -> Iterator[JwksHost]:
    with JwksHost(
        Keyring(published_algs=("ES256", "EdDSA")), slow_s=30.0, cache_max_age_s=42
    ) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with client(timeout_s=5.0) as c:
        yield c


def _kids(http: httpx.Client, url: str) -> list[str]:
    return [k["kid"] for k in http.get(url).json()["keys"]]


def test_serves_published_jwks_with_headers(host: JwksHost, http: httpx.Client) -> None:
    response = http.get(host.jwks_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "max-age=42"
    assert response.json() == host.keyring.published_jwks()
    assert host.jwks_url == host.base_url + "/jwks.json"
    assert host.url("x") == host.base_url + "/x"


def test_published_key_verifies_token_end_to_end(host: JwksHost, http: httpx.Client) -> None:
    key = host.keyring.trusted("EdDSA")
    token = Assertion(sub="s").expires_in(60).signed_with(key)
    jwks = jwt.PyJWKSet.from_dict(http.get(host.jwks_url).json())
    assert jwt.decode(token, jwks[key.kid], algorithms=["EdDSA"])["sub"] == "s"


def test_other_and_attacker_paths(host: JwksHost, http: httpx.Client) -> None:
    assert _kids(http, host.other_jwks_url) == ["other-es256-1", "other-eddsa-1"]
    assert "attacker-es256" in _kids(http, host.attacker_jwks_url)
    assert "attacker-es256" not in _kids(http, host.jwks_url)
    cert_response = http.get(host.attacker_cert_url)
    assert cert_response.status_code == 200
    cert = x509.load_pem_x509_certificate(cert_response.content)
    attacker = host.keyring.attacker("ES256")
    assert cert.public_key().public_numbers() == attacker.public_key.public_numbers()
    assert http.get(host.url("/nothing-here")).status_code == 404


def test_request_log(host: JwksHost, http: httpx.Client) -> None:
    host.clear_log()
    http.get(host.jwks_url, params={"v": "1"}, headers={"x-probe": "yes"})
    http.get(host.jwks_url)
    http.post(host.attacker_jwks_url)
    assert host.fetch_count("/jwks.json") == 2
    assert host.fetch_count("/attacker/jwks.json") == 1
    first = host.requests()[0]
    assert (first.method, first.path, first.query) == ("GET", "/jwks.json", "v=1")
    assert first.header("X-Probe") == "yes"
    assert first.time > 0
    assert [r.method for r in host.requests("/attacker")] == ["POST"]
    with pytest.raises(AttributeError):
        first.path = "/changed"  # type: ignore[misc]
    host.clear_log()
    assert host.requests() == []


def test_rotation_and_revocation_take_effect_at_once(host: JwksHost, http: httpx.Client) -> None:
    assert "rotation-es256-2" not in _kids(http, host.jwks_url)
    key = host.rotate("ES256")
    assert key.kid == "rotation-es256-2"
    assert "rotation-es256-2" in _kids(http, host.jwks_url)
    host.revoke("rotation-es256-2")
    assert "rotation-es256-2" not in _kids(http, host.jwks_url)
    assert "trusted-es256-1" in _kids(http, host.jwks_url)


@pytest.mark.parametrize(
    ("mode", "status", "check"),
    [
        ("500", 500, lambda r: r.json() == {"error": "internal error"}),
        ("invalid_json", 200, lambda r: _not_json(r.content)),
        ("html", 200, lambda r: r.headers["content-type"].startswith("text/html")),
        ("keys_not_array", 200, lambda r: r.json() == {"keys": {}}),
        ("empty", 200, lambda r: r.json() == {"keys": []}),
        (
            "oversized",
            200,
            lambda r: len(r.content) > OVERSIZED_BYTES and len(r.json()["keys"]) == 2,
        ),
    ],
)
def test_failure_modes(
    host: JwksHost, http: httpx.Client, mode: str, status: int, check: object
) -> None:
    with host.failing("/jwks.json", mode):
        response = http.get(host.jwks_url)
        assert response.status_code == status
        assert check(response)  # type: ignore[operator]
        # Other paths are unaffected.
        assert http.get(host.other_jwks_url).status_code == 200
    assert http.get(host.jwks_url).json() == host.keyring.published_jwks()


def _not_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


def test_slow_mode_holds_only_that_path(host: JwksHost, http: httpx.Client) -> None:
    host.fail("/other/jwks.json", "slow")
    try:
        with client(timeout_s=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
            impatient.get(host.other_jwks_url)
        # While a slow response is pending (slow_s is 30 s), another request is served.
        host.clear_log()
        outcome: list[object] = []
        slow = threading.Thread(target=_get_into, args=(host.other_jwks_url, outcome))
        slow.start()
        while host.fetch_count("/other/jwks.json") == 0:
            threading.Event().wait(0.01)
        assert http.get(host.jwks_url).status_code == 200
        assert outcome == []  # the slow one is still pending
    finally:
        host.restore("/other/jwks.json")
    # Restoring ends the pending slow response with the normal content.
    slow.join(timeout=20)
    assert len(outcome) == 1
    assert isinstance(outcome[0], httpx.Response)
    assert outcome[0].status_code == 200


def _get_into(url: str, outcome: list[object]) -> None:
    try:
        with client(timeout_s=25.0) as c:
            outcome.append(c.get(url))
    except httpx.HTTPError as exc:
        outcome.append(exc)


def test_override_serves_fixed_body(host: JwksHost, http: httpx.Client) -> None:
    duplicate = {"keys": [dict(host.keyring.trusted().public_jwk)] * 2}
    with host.overriding("/jwks.json", duplicate):
        assert http.get(host.jwks_url).json() == duplicate
    with host.overriding("/custom.txt", b"plain", content_type="text/plain", status=418):
        response = http.get(host.url("/custom.txt"))
        assert (response.status_code, response.text) == (418, "plain")
    assert http.get(host.url("/custom.txt")).status_code == 404


def test_misuse_raises(host: JwksHost) -> None:
    with pytest.raises(ValueError, match="oversized"):
        host.fail("/jwks.json", "teapot")
    with pytest.raises(ValueError, match="start with"):
        host.fail("jwks.json", "500")
    assert set(FAILURE_MODES) == {
        "500",
        "slow",
        "oversized",
        "invalid_json",
        "html",
        "keys_not_array",
        "empty",
        "timeout",
    }


def test_start_stop_and_not_running_errors() -> None:
    host = JwksHost(Keyring(published_algs=("ES256",)))
    with pytest.raises(RuntimeError, match="not running"):
        _ = host.jwks_url
    host.start()
    try:
        assert host.start() is host  # idempotent
        with client(timeout_s=5.0) as c:
            assert c.get(host.jwks_url).status_code == 200
        url = host.jwks_url
    finally:
        host.stop()
    host.stop()
    with client(timeout_s=2.0) as c, pytest.raises(httpx.ConnectError):
        c.get(url)


def test_stop_does_not_wait_for_slow_responses() -> None:
    host = JwksHost(Keyring(published_algs=("ES256",)), slow_s=600.0)
    host.start()
    host.fail("/jwks.json", "slow")
    url = host.jwks_url
    pending = threading.Thread(target=lambda: _ignore_errors(url))
    pending.start()
    while host.fetch_count("/jwks.json") == 0:
        threading.Event().wait(0.01)
    host.stop()
    pending.join(timeout=30)
    assert not pending.is_alive()


def _ignore_errors(url: str) -> None:
    try:
        with client(timeout_s=60.0) as c:
            c.get(url)
    except httpx.HTTPError:
        pass
