"""Issue 14, classes 4-9: the per-refusal hygiene log and the recipes of the new families,
judged against the in-memory FakeTarget (no servers)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from conformance import Keyring, Runtime, TargetSettings, run_case
from conformance._hygiene import RefusalLog, inspect
from conformance._jose import b64url_encode
from conformance._settings import PropertySettings
from conformance.catalog import BY_ID, exhaustion
from conformance.catalog.authoring import CAPABILITIES
from conformance.targets._evidence import recorded
from conformance.targets.base import Exchange, ExchangeRequest
from conformance.targets.fake import FakeTarget, Reply

TOKEN = Reply(200, body='{"elevatedAccessToken": "[issued]"}', issued="issued-token")
REFUSED = Reply(401, body='{"error": "invalid assertion"}')
_KEYRING = Keyring(published_algs=("ES256",))


def _runtime(handler: Callable[[ExchangeRequest], Reply]) -> Runtime:
    settings = TargetSettings(
        profile="dynamic",
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        capabilities=CAPABILITIES,
    )
    return Runtime(settings=settings, keyring=_KEYRING, target=FakeTarget(handler))


def _refusal(body: str, *, content_type: str = "application/json", token: str = "") -> Exchange:
    return recorded(
        label="attempt",
        method="POST",
        url="fake://target",
        request_headers={},
        request_body="",
        status=401,
        response_headers={"content-type": content_type},
        response_body=body,
        latency_ms=1.0,
        assertion=token,
        issued=None,
    )


def _token_with_kid(kid: str) -> str:
    head = b64url_encode(json.dumps({"alg": "ES256", "kid": kid}).encode())
    body = b64url_encode(b'{"sub": "a"}')
    return f"{head}.{body}.{'s' * 40}"


# -- the per-refusal inspection ----------------------------------------------------------------


def test_a_documented_json_refusal_has_no_finding() -> None:
    assert inspect(_refusal('{"error": "invalid signature"}', token=_token_with_kid("k1"))) == []


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ('{"error": "Traceback (most recent call last): boom"}', "stack trace"),
        ('{"error": "-----BEGIN PRIVATE KEY----- MIIE"}', "PEM private"),
        ('{"error": "-----BEGIN RSA PRIVATE KEY----- MIIE"}', "PEM private"),
        ('{"error": "bad: ' + "s" * 40 + '"}', "signature"),
        ('{"error": "jwt_KeyError(\'kid\')"}', "exception repr"),  # inside a longer word
        # long hostile bodies (each took seconds per refusal before the patterns were
        # bounded): what they hold is still found
        pytest.param(
            '{"error": "' + "x" * 60_000 + ' ValueError(1)"}', "exception repr", id="long-word"
        ),
        pytest.param(
            '{"error": "' + "expected" * 7000 + " unexpected: "
            'Xq3_kZ9bT0vYw2LrA8mN1pQs5uHe7jGc4dFi6oKa-Bl"}',
            "CVE-2019-7644",
            id="expected-repeated",
        ),
    ],
)
def test_disclosures_are_found(body: str, what: str) -> None:
    found = inspect(_refusal(body, token=_token_with_kid("k1")))
    assert [kind for kind, _ in found] == ["disclosure"]
    assert what in found[0][1]


@pytest.mark.parametrize(
    "body",
    [
        # node jsonwebtoken's own messages, which servers pass on as error_description
        '{"error": "invalid_grant", "error_description": "jwt audience invalid. expected: '
        'conformance-dynamic-environment-audience"}',
        '{"error": "invalid_grant", "error_description": "jwt issuer invalid. expected: '
        'conformance-issuer-of-the-tests"}',
        '{"error": "invalid_grant", "error_description": "expected environment '
        '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"}',
    ],
)
def test_an_expected_public_claim_value_is_no_disclosure(body: str) -> None:
    """CVE-2019-7644 is an error quoting the expected *signature*: quoting the audience,
    the issuer or an environment id (public values) gives an attacker nothing."""
    assert inspect(_refusal(body, token=_token_with_kid("k1"))) == []


@pytest.mark.parametrize(
    "value",
    [
        "Xq3_kZ9bT0vYw2LrA8mN1pQs5uHe7jGc4dFi6oKa-Bl",  # an HS256 MAC, base64url
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # hex
    ],
)
def test_an_expected_signature_is_a_disclosure(value: str) -> None:
    body = f'{{"error": "Invalid signature. Expected {value} got something else"}}'
    found = inspect(_refusal(body, token=_token_with_kid("k1")))
    assert [kind for kind, _ in found] == ["disclosure"]
    assert "CVE-2019-7644" in found[0][1]


_TRUSTED = _KEYRING.trusted("ES256")
_PUBLIC = [str(_TRUSTED.public_jwk["x"]), str(_TRUSTED.public_jwk["y"])]


def _jwk_header_token() -> str:
    head = b64url_encode(json.dumps({"alg": "ES256", "jwk": _TRUSTED.public_jwk}).encode())
    return f"{head}.{b64url_encode(b'{}')}.{'s' * 40}"


@pytest.mark.parametrize(
    ("body", "token"),
    [
        # the JWKS's public key, quoted, or as the "expected" value
        (json.dumps({"error": f"unknown key x={_PUBLIC[0]} y={_PUBLIC[1]}"}), ""),
        (json.dumps({"error": f"bad signature, expected {_PUBLIC[0]}"}), ""),
        # the assertion's own jwk header, echoed back
        (json.dumps({"error": "untrusted jwk", "jwk": _TRUSTED.public_jwk}), "jwk"),
        ('{"error": "-----BEGIN PUBLIC KEY----- MIIB"}', ""),
        ('{"error": "-----BEGIN CERTIFICATE----- MIIB"}', ""),
    ],
    # fixed ids: the key is new each process, and xdist workers must collect alike
    ids=["jwks_xy", "jwks_expected", "jwk_header", "pem_key", "pem_certificate"],
)
def test_a_public_key_echo_is_a_fact_not_a_disclosure(body: str, token: str) -> None:
    """A public key (from the JWKS, or the token's jwk header) discloses nothing secret."""
    assertion = _jwk_header_token() if token else _token_with_kid("k1")
    found = inspect(_refusal(body, token=assertion), public=_PUBLIC)
    assert [kind for kind, _ in found] == ["public_key"]


def test_an_echo_of_a_private_member_is_a_disclosure() -> None:
    d = "Pq7xY2kL9mN4bV6cX1zA3sD5fG8hJ0wE"
    found = inspect(_refusal(json.dumps({"error": f"key d={d}"})), private=[d])
    assert found == [("disclosure", "echoes private key material")]


def test_the_hygiene_case_counts_public_key_echoes_as_a_fact() -> None:
    trusted = _KEYRING.trusted("ES256").public_jwk

    def handler(request: ExchangeRequest) -> Reply:
        if request.label.startswith("probe"):
            return Reply(401, body=json.dumps({"error": "unknown key", "expected": trusted}))
        return TOKEN

    runtime = _runtime(handler)
    result = run_case(runtime, BY_ID["errors.hygiene.every_refusal_discloses_nothing"])
    assert result.verdict == "pass", result.message
    assert runtime.facts["refusals_echoing_public_key"]["value"] == 2


def test_markup_reflected_into_a_rendered_answer_is_found_but_not_into_json() -> None:
    token = _token_with_kid("<svg onload=x>")
    html = _refusal("<p>unknown key <svg onload=x></p>", content_type="text/html", token=token)
    untyped = _refusal("unknown key <svg onload=x>", content_type="", token=token)
    as_json = _refusal('{"error": "unknown key <svg onload=x>"}', token=token)
    plain = _refusal("unknown key <svg onload=x>", content_type="text/plain", token=token)
    assert ("reflection" in {kind for kind, _ in inspect(html)}) is True
    assert ("reflection" in {kind for kind, _ in inspect(untyped)}) is True
    assert [kind for kind, _ in inspect(as_json)] == []
    assert [kind for kind, _ in inspect(plain)] == ["shape"]


def test_a_refusal_without_a_json_error_string_is_a_shape_finding() -> None:
    assert [kind for kind, _ in inspect(_refusal("nope", content_type="text/plain"))] == ["shape"]


def test_the_log_counts_each_refusal_once_and_leaves_the_errors_cases_out() -> None:
    log = RefusalLog()
    leak = _refusal('{"error": "Traceback (most recent call last)"}')
    log.observe("claims.iss.missing", "claims", leak)
    log.observe("errors.disclosure.garbage", "errors", leak)  # judged by its own case
    log.observe("claims.iss.missing", "claims", _refusal('{"error": "fine"}'))
    count, findings = log.of("disclosure")
    assert (log.checked, count, [f.case_id for f in findings]) == (2, 1, ["claims.iss.missing"])


# -- the recipes ---------------------------------------------------------------------------------


def _hygiene_target(leaky: bool) -> Callable[[ExchangeRequest], Reply]:
    def handler(request: ExchangeRequest) -> Reply:
        if request.label.startswith("probe") and leaky:
            return Reply(401, body="<p>bad kid <svg onload=alert('conformance-kid')></p>",
                         headers={"content-type": "text/html"})  # fmt: skip
        return REFUSED if request.label.startswith("probe") else TOKEN

    return handler


@pytest.mark.parametrize(("leaky", "verdict"), [(False, "pass"), (True, "fail")])
def test_the_hygiene_case_judges_what_the_run_recorded(leaky: bool, verdict: str) -> None:
    result = run_case(
        _runtime(_hygiene_target(leaky)), BY_ID["errors.hygiene.every_refusal_discloses_nothing"]
    )
    assert result.verdict == verdict, result.message


@pytest.mark.parametrize(
    ("hostile", "verdict"),
    [(REFUSED, "pass"), (Reply(500, body="{}"), "warn"), (TOKEN, "warn")],
)
def test_exhaustion_wants_a_refusal(hostile: Reply, verdict: str) -> None:
    def handler(request: ExchangeRequest) -> Reply:
        return hostile if request.label == "hostile" else TOKEN

    result = run_case(_runtime(handler), BY_ID["encoding.exhaustion.many_dots"])
    assert result.verdict == verdict, result.message


def test_exhaustion_judges_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exhaustion, "allowed_latency_ms", lambda baseline: -1.0)  # all too slow

    def handler(request: ExchangeRequest) -> Reply:
        return REFUSED if request.label == "hostile" else TOKEN

    result = run_case(_runtime(handler), BY_ID["encoding.exhaustion.only_dots"])
    assert (result.judged, "stall" in result.message) == ("fail", True)


def _step_up(required_after_refusal: bool) -> Callable[[ExchangeRequest], Reply]:
    refused = {"done": False}

    def handler(request: ExchangeRequest) -> Reply:
        if request.label == "refused verify":
            refused["done"] = True
            return REFUSED
        if request.label.startswith("check"):
            required = required_after_refusal or not refused["done"]
            return Reply(200, body=json.dumps({"isRequired": required}))
        return TOKEN

    return handler


@pytest.mark.parametrize(("keeps_required", "verdict"), [(True, "pass"), (False, "fail")])
def test_a_refused_verify_never_satisfies_the_step_up(keeps_required: bool, verdict: str) -> None:
    result = run_case(
        _runtime(_step_up(keeps_required)),
        BY_ID["issued.step_up.required_after_refused_verify"],
    )
    assert result.verdict == verdict, result.message


@pytest.mark.parametrize(("second", "verdict"), [(REFUSED, "pass"), (TOKEN, "fail")])
def test_a_prototype_named_jti_is_still_single_use(second: Reply, verdict: str) -> None:
    seen: list[str] = []

    def handler(request: ExchangeRequest) -> Reply:
        seen.append(request.assertion)
        return second if seen.count(request.assertion) > 1 else TOKEN

    result = run_case(_runtime(handler), BY_ID["replay.same_token.jti_proto"])
    assert result.verdict == verdict, result.message


def test_the_slow_tier_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFORMANCE_SLOW_TIER", raising=False)
    result = run_case(_runtime(lambda r: TOKEN), BY_ID["replay.same_token.spaced_30s"])
    assert (result.verdict, "CONFORMANCE_SLOW_TIER" in result.message) == ("skip", True)
    assert "--slow-tier" in result.message


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_slow_tier_runs_when_opted_in(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Opted in (``--slow-tier``: the run's properties; or the environment variable), the
    spaced replay runs: here it reaches its wait, which a stopped run ends at once (an
    error, never a 30 s wait in a test)."""
    monkeypatch.delenv("CONFORMANCE_SLOW_TIER", raising=False)
    runtime = _runtime(lambda r: TOKEN)
    if how == "option":
        runtime.properties = PropertySettings(slow_tier=True)
    else:
        monkeypatch.setenv("CONFORMANCE_SLOW_TIER", "1")
    runtime.interrupted.set()
    result = run_case(runtime, BY_ID["replay.same_token.spaced_30s"])
    assert (result.verdict, "stopped during this case's wait" in result.message) == ("error", True)


def test_slow_tier_passes_on_to_pytest_to_each_fleet_run_and_to_the_rerun_line() -> None:
    import argparse

    from conformance._cli_run import pytest_args, register
    from conformance._fleet import child_args
    from conformance.plugin import RunOptions

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert "--conformance-slow-tier" in pytest_args(parser.parse_args(["run", "--slow-tier"]))
    assert "--conformance-slow-tier" not in pytest_args(parser.parse_args(["run"]))
    assert "--slow-tier" in child_args(parser.parse_args(["run", "--slow-tier"]))
    options = RunOptions(slow_tier=True)
    assert options.rerun_line("replay.same_token.spaced_30s", cli=True).endswith("--slow-tier")
    assert "--conformance-slow-tier" in options.rerun_line("replay.same_token.spaced_30s")


def test_the_latency_bound_is_the_floor_or_ten_times_the_baseline() -> None:
    assert exhaustion.allowed_latency_ms(5.0) == exhaustion.STALL_S * 1000
    assert exhaustion.allowed_latency_ms(1000.0) == 10_000.0


@pytest.mark.parametrize(("leaky", "verdict"), [(False, "skip"), (True, "fail")])
def test_the_hygiene_case_of_one_xdist_worker_never_passes_for_the_run(
    leaky: bool, verdict: str
) -> None:
    """A worker's log holds its share of the refusals only: what it found is a finding,
    but finding nothing there proves nothing about the run's other refusals."""
    runtime = _runtime(_hygiene_target(leaky))
    runtime.refusals.partial = "one pytest-xdist worker of 2"
    result = run_case(runtime, BY_ID["errors.hygiene.every_refusal_discloses_nothing"])
    assert result.verdict == verdict, result.message
    if verdict == "skip":
        assert "xdist" in result.message
