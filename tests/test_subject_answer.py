"""Whom the answer says the token is for: the profile key ``[classify] subject``, its
reading by the template target, and the ``subject.answer.*`` cases against scripted
targets (no servers)."""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Callable, Mapping

import httpx
import pytest

from conformance._engine import Runtime, run_case
from conformance._exceptions import ConfigError
from conformance._keyring import Keyring
from conformance._profile import Profile, parse_profile
from conformance._settings import TargetSettings
from conformance._transport import Transport, TransportPolicy
from conformance.catalog import BY_ID
from conformance.catalog.authoring import CAPABILITIES
from conformance.forge import split
from conformance.targets.base import TARGET_CAPABILITIES, ExchangeRequest
from conformance.targets.fake import FakeTarget, Reply
from conformance.targets.template import TemplateTarget, json_at

PROFILE = """
[profile]
name = "mini"
description = "a minimal sign-in"
source = "test"

[params.base_url]
kind = "url"

[request]
url = "{base_url}/signin"
fields = { jwt = "{assertion}" }

[classify]
token = "jwt"
"""
SUBJECT_PATH = 'subject = "user.verifiedCredentials.0.id"\n'


def _profile(extra: str = SUBJECT_PATH) -> Profile:
    return parse_profile(tomllib.loads(PROFILE + extra), source="mini.toml")


# -- the profile key and the JSON path ---------------------------------------------------


def test_json_at_indexes_arrays_and_never_raises() -> None:
    data = {"user": {"verifiedCredentials": [{"id": "alice"}, {"id": "bob"}]}}
    assert json_at(data, "user.verifiedCredentials.0.id") == "alice"
    assert json_at(data, "user.verifiedCredentials.1.id") == "bob"
    assert json_at(data, "user.verifiedCredentials.2.id") is None
    assert json_at(data, "user.verifiedCredentials.x.id") is None
    assert json_at({"user": "text"}, "user.0") is None
    assert json_at([{"id": "a"}], "0.id") == "a"


def test_the_subject_path_is_parsed_and_checked() -> None:
    assert _profile().classify.subject == "user.verifiedCredentials.0.id"
    assert _profile("").classify.subject is None
    for bad in ("user..id", "0.id", "user.id.", "user[0].id"):
        with pytest.raises(ConfigError, match=r"classify\.subject must be a dotted JSON path"):
            _profile(f'subject = "{bad}"\n')


def _template(extra: str, answer: Mapping[str, object]) -> TemplateTarget:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)))
    transport = Transport(client, TransportPolicy(retries=0, rate_limit_per_s=1000))
    settings = TargetSettings(issuer="https://issuer.test")
    return TemplateTarget(
        _profile(extra),
        settings,
        transport,
        {"base_url": "http://127.0.0.1:9"},
    )


def test_the_template_target_records_the_answers_subject() -> None:
    answer = {"jwt": "session-token", "user": {"verifiedCredentials": [{"id": "Alice"}]}}
    target = _template(SUBJECT_PATH, answer)
    assert "reports_subject" in target.capabilities
    exchange = target.exchange(ExchangeRequest(assertion="t"))
    assert exchange.accepted and exchange.subject == "Alice"
    # a path the answer does not hold, or a non-string there, names no subject
    assert _template(SUBJECT_PATH, {"jwt": "s"}).exchange(ExchangeRequest("t")).subject is None
    odd = {"jwt": "s", "user": {"verifiedCredentials": [{"id": 7}]}}
    assert _template(SUBJECT_PATH, odd).exchange(ExchangeRequest("t")).subject is None
    # without the key: no capability, no subject
    plain = _template("", answer)
    assert "reports_subject" not in plain.capabilities
    assert plain.exchange(ExchangeRequest(assertion="t")).subject is None


# -- the cases against scripted targets ----------------------------------------------------

_KEYRING = Keyring(published_algs=("ES256",))
CASE_IDS = sorted(i for i in BY_ID if i.startswith("subject.answer."))


def _sub(request: ExchangeRequest) -> str:
    return str(split(request.assertion)[1]["sub"])


def _runtime(name: Callable[[str], str | None], *, reports: bool = True) -> Runtime:
    """A sign-in target that answers with the subject ``name`` gives (``None``: refused)."""

    def handler(request: ExchangeRequest) -> Reply:
        named = name(_sub(request))
        if named is None:
            return Reply(401, body='{"error": "invalid subject"}')
        return Reply(200, body='{"jwt": "[issued]"}', issued="session-token", subject=named)

    capabilities = TARGET_CAPABILITIES - (set() if reports else {"reports_subject"})
    settings = TargetSettings(
        base_url="fake://target",
        environment_id="env",
        issuer="https://issuer.test",
        subjects=("alice", "bob"),
        capabilities=CAPABILITIES,
    )
    target = FakeTarget(handler, capabilities=tuple(sorted(capabilities)))
    return Runtime(settings=settings, keyring=_KEYRING, target=target)


def _verdicts(runtime: Runtime) -> dict[str, str]:
    return {i: run_case(runtime, BY_ID[i]).verdict for i in CASE_IDS}


def test_there_is_a_case_for_each_kind_of_variant() -> None:
    assert CASE_IDS == [
        "subject.answer.case_variant",
        "subject.answer.exact",
        "subject.answer.nfkc_lookalike",
        "subject.answer.trailing_nul",
        "subject.answer.trailing_space",
    ]


def test_a_target_that_reports_no_subject_skips_every_case_with_the_reason() -> None:
    runtime = _runtime(lambda s: s, reports=False)
    for case_id in CASE_IDS:
        result = run_case(runtime, BY_ID[case_id])
        assert result.verdict == "skip", case_id
        assert "reports_subject" in result.message
    assert runtime.target.requests == []  # type: ignore[attr-defined]


def test_exact_subjects_pass_and_refused_variants_pass() -> None:
    assert set(_verdicts(_runtime(lambda s: s)).values()) == {"pass"}
    strict = _runtime(lambda s: s if s in {"alice", "bob"} else None)
    assert set(_verdicts(strict).values()) == {"pass"}


def test_folding_the_subject_fails_the_variant_cases() -> None:
    folded = _runtime(lambda s: unicodedata.normalize("NFKC", s).strip(" \x00").casefold())
    verdicts = _verdicts(folded)
    assert verdicts.pop("subject.answer.exact") == "pass"
    assert set(verdicts.values()) == {"fail"}, verdicts
    result = run_case(folded, BY_ID["subject.answer.case_variant"])
    assert "signed in as 'alice'" in result.message


def test_another_users_subject_or_a_missing_one() -> None:
    assert _verdicts(_runtime(lambda s: "bob"))["subject.answer.exact"] == "fail"
    # an accepted answer that names no subject proves nothing
    runtime = _runtime(lambda s: s)
    runtime.target.handler = lambda request: Reply(  # type: ignore[attr-defined]
        200, body='{"jwt": "[issued]"}', issued="session-token"
    )
    assert run_case(runtime, BY_ID["subject.answer.exact"]).verdict == "error"
