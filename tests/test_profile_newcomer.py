"""A newcomer's profile (issue 15): a token endpoint written outside the suite
(``tests/byo_server.py``: a form body, PyJWT, its own JWKS), described by the TOML file
``docs/profiles.md`` shows for it and nothing else, run in a child process. The clean
server has no fail and no error; each planted flaw is caught."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import cli
from conformance._contract import unjudged, with_contract
from conformance._profile import Profile, parse_profile
from conformance._settings import TargetSettings
from conformance._transport import Transport, TransportPolicy
from conformance.catalog import CASES
from conformance.catalog.authoring import Level
from conformance.targets.base import ExchangeRequest, Unsendable
from conformance.targets.template import TemplateTarget

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "profiles.md"
ISSUER = "https://customer.example"
#: a focused plan (under ~30 s): the valid baseline, the claims the contract names,
#: times, replay, the oracle
CASES_RUN = (
    "envelope.valid.*",
    "claims.aud.*",
    "claims.iss.*",
    "claims.sub.missing",
    "time.exp.*",
    "replay.same_token.*",
    "replay.jti.*",
    "claims.property.oracle",
)


def byo_toml() -> str:
    """The form-body example of docs/profiles.md, exactly as the page shows it."""
    section = DOC.read_text(encoding="utf-8").split("## Worked example: a form body", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def header_toml() -> str:
    """The same endpoint with the JWT in an ``Authorization: JWT`` header."""
    return byo_toml().replace(
        'fields = { grant = "byo", jwt = "{assertion}", tenant = "{tenant}" }',
        'headers = { authorization = "JWT {assertion}" }\n'
        'fields = { grant = "byo", tenant = "{tenant}" }',
    )


def byo_profile(text: str | None = None) -> Profile:
    return parse_profile(tomllib.loads(text or byo_toml()), source="byo.toml")


def _target(profile: Profile, status: int, sent: list[httpx.Request]) -> TemplateTarget:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(status, json={"error": "no"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    transport = Transport(client, TransportPolicy(retries=0, rate_limit_per_s=1000))
    values = {"base_url": "https://byo.test", "tenant": "t1"}
    return TemplateTarget(profile, TargetSettings(issuer=ISSUER), transport, values)


@pytest.mark.parametrize("token", ["a.b.c\n", "a.b\n.c", "a.b.c ", "a.b.\u00e9", "a.\x00b.c"])
def test_an_assertion_a_header_cannot_carry_is_not_sent(token: str) -> None:
    """Sending it would fail in the HTTP library (an error blamed on the target): the
    case does not apply to this wire shape, and says why."""
    sent: list[httpx.Request] = []
    target = _target(byo_profile(header_toml()), 400, sent)
    with pytest.raises(Unsendable, match="carries the assertion in the authorization header"):
        target.exchange(ExchangeRequest(assertion=token))
    assert not sent
    form = _target(byo_profile(), 400, sent)
    assert form.exchange(ExchangeRequest(assertion=token)).rejected
    assert len(sent) == 1


def test_a_431_refuses_an_assertion_carried_in_a_header() -> None:
    """Headers too large say nothing about an assertion in the body; in a header, the
    assertion is what was too large (envelope.size.token_100kb on a stdlib server)."""
    sent: list[httpx.Request] = []
    in_header = _target(byo_profile(header_toml()), 431, sent).exchange(
        ExchangeRequest(assertion="a.b.c")
    )
    assert in_header.rejected and in_header.error is None
    assert sent[0].headers["authorization"] == "JWT a.b.c"
    in_body = _target(byo_profile(), 431, sent).exchange(ExchangeRequest(assertion="a.b.c"))
    assert not in_body.rejected and in_body.misbehaved


def test_an_unbounded_jti_is_no_must_failure() -> None:
    """No document bounds a jti's length: accepting a 10 KB one is leniency (should),
    and the oracle does not judge it, whatever the base (a must here was a false alarm
    on a correct PyJWT server)."""
    profile = byo_profile()
    case = next(c for c in with_contract(CASES, profile) if c.id == "replay.jti.huge_10kb")
    assert case.level_for(profile.semantics) is Level.SHOULD
    assert "jti_too_long" in unjudged(profile)
    data = tomllib.loads(byo_toml())
    data["profile"]["semantics"] = "rfc7523/jwt_bearer"
    assert "jti_too_long" in unjudged(parse_profile(data, source="byo.toml"))


def _run(
    tmp_path: Path,
    flaws: tuple[str, ...],
    *,
    profile: str | None = None,
    cases: tuple[str, ...] = CASES_RUN,
) -> dict[str, Any]:
    from byo_server import running  # lazy: the test helper starts a server

    keys = tmp_path / "keys"
    assert cli.main(["keys", "new", "--alg", "ES256", "--out", str(keys)]) == 0
    jwks = (keys / "jwks.json").read_bytes()
    (tmp_path / "byo.toml").write_text(profile or byo_toml())
    out = tmp_path / "out"
    with running(ISSUER, jwks, flaws=flaws) as base_url:
        (tmp_path / "run.toml").write_text(
            "[target]\n"
            'profile_file = "byo.toml"\n'
            f'base_url = "{base_url}"\n'
            'tenant = "t1"\n'
            f'issuer = "{ISSUER}"\n'
            'audience = "byo:t1"\n'
            'subjects = ["alice", "bob"]\n'
            "[[target.keys]]\n"
            'private_key = "keys/private.pem"\n'
            "[transport]\n"  # the default (5/s) protects a staging service, not our loopback
            "rate_limit_per_s = 1000\n"
        )
        command = [
            sys.executable, "-m", "conformance", "run",
            "--config", str(tmp_path / "run.toml"),
            "--no-report", "--report-dir", str(out), "--examples", "10",
            *(arg for case_id in cases for arg in ("--id", case_id)),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return dict(json.loads((out / "results.json").read_text()))


@pytest.mark.slow
def test_the_newcomers_correct_server_is_clean(tmp_path: Path) -> None:
    results = _run(tmp_path, ())
    verdicts = {c["id"]: c["verdict"] for c in results["cases"]}
    assert not {k: v for k, v in verdicts.items() if v in ("fail", "error")}
    assert verdicts["envelope.valid.baseline"] == "pass"
    assert verdicts["claims.aud.wrong"] == "pass"
    assert verdicts["replay.same_token.twice"] == "pass"
    assert verdicts["replay.jti.huge_10kb"] == "warn"  # its server takes any jti length
    assert results["run"]["target"]["profile_name"] == "byo"
    assert results["summary"]["verdict"] in ("conformant", "conformant_with_gaps")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flaw", "caught"), [("byo_no_aud", "claims.aud."), ("byo_replay", "replay.same_token.")]
)
def test_the_newcomers_flaws_are_caught(tmp_path: Path, flaw: str, caught: str) -> None:
    results = _run(tmp_path, (flaw,))
    failed = {c["id"] for c in results["cases"] if c["verdict"] == "fail"}
    assert any(i.startswith(caught) for i in failed), failed
    assert results["summary"]["verdict"] == "not_conformant"


@pytest.mark.slow
def test_the_header_variant_is_clean(tmp_path: Path) -> None:
    """The JWT in an ``Authorization: JWT`` header: an assertion with a line break
    skips (it cannot be sent there), a 100 KB one refused by 431 passes."""
    cases = ("envelope.valid.baseline", "envelope.size.token_100kb", "encoding.whitespace.*")
    results = _run(tmp_path, (), profile=header_toml(), cases=cases)
    verdicts = {c["id"]: c for c in results["cases"]}
    assert not {k: c["verdict"] for k, c in verdicts.items() if c["verdict"] in ("fail", "error")}
    assert verdicts["envelope.valid.baseline"]["verdict"] == "pass"
    assert verdicts["envelope.size.token_100kb"]["verdict"] == "pass"
    newline = verdicts["encoding.whitespace.trailing_newline"]
    assert newline["verdict"] == "skip" and "authorization header" in newline["message"]
