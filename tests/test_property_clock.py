"""The claims property oracle on a loaded machine: an example whose drawn time sits a
few seconds from a boundary may reach the target after that boundary passed. Such an
example proves nothing; it must not fail the case (seen as a flaky verdict under load)."""

from __future__ import annotations

import json
import secrets
from types import SimpleNamespace
from typing import Any

import pytest

from conformance._assertion import Assertion
from conformance._engine import Fail
from conformance._jose import b64url_decode
from conformance._keyring import Keyring
from conformance._oracle import violations
from conformance._settings import PropertySettings, TargetSettings
from conformance.catalog import properties

LAG_S = 5  # each send reaches the target this long after the example was judged


class SlowContext:
    """A context whose target answers truthfully (the oracle's own rules, leeway
    included) at its clock, which runs ``LAG_S`` ahead each time an example is sent."""

    def __init__(self) -> None:
        self.keyring = Keyring(published_algs=("ES256",))
        self.settings = TargetSettings(issuer="https://issuer.example", leeway_s=30)
        self.properties = PropertySettings(examples=60, seed=7)
        self.target = SimpleNamespace(profile="dynamic", description={})
        self.clock = 1_900_000_000
        self.lagged = 0

    def fail(self, message: str) -> None:
        raise Fail(message)

    error = fail

    @property
    def key(self) -> Any:
        return self.keyring.trusted("ES256")

    def now(self) -> int:
        return self.clock

    def assertion(self, **_: Any) -> Assertion:
        s = self.settings
        return Assertion(
            iss=s.issuer,
            sub=s.subjects[0],
            scope=s.scopes[0],
            jti=secrets.token_urlsafe(16),
            iat=self.clock,
            exp=self.clock + 120,
            **({"aud": s.audience} if s.audience else {}),
        )

    def send(self, token: str, **_: Any) -> Any:
        self.clock += LAG_S  # the machine held the example this long
        head, body, _sig = token.split(".")
        header, claims = json.loads(b64url_decode(head)), json.loads(b64url_decode(body))
        rules = properties._rules(self)  # type: ignore[arg-type]
        broken = violations(header, claims, rules=rules, now=self.clock, key_alg="ES256")
        accepted = not [b for b in broken if b not in properties.ADVISORY_RULES]
        self.lagged += 1
        return SimpleNamespace(misbehaved=False, accepted=accepted, status=200, error=None)


def oracle_case() -> Any:
    return next(c for c in properties.CASES if c.id == "claims.property.oracle")


def test_an_example_that_crossed_a_boundary_in_flight_fails_nothing() -> None:
    ctx = SlowContext()
    assert oracle_case().run(ctx) is None  # no Fail raised: the property held
    assert ctx.lagged >= 30


def test_a_target_that_ignores_exp_still_fails_when_it_lags() -> None:
    """The allowance is for examples whose answer changed in flight, not a blanket pass."""

    class IgnoresExp(SlowContext):
        def send(self, token: str, **kw: Any) -> Any:
            answer = super().send(token, **kw)
            head, body, _sig = token.split(".")
            claims = json.loads(b64url_decode(body))
            header = json.loads(b64url_decode(head))
            rules = properties._rules(self)  # type: ignore[arg-type]
            broken = violations(header, claims, rules=rules, now=self.clock, key_alg="ES256")
            if set(broken) <= {"exp_expired", "exp_missing"} | properties.ADVISORY_RULES:
                answer.accepted = True
            return answer

    with pytest.raises(Fail):
        oracle_case().run(IgnoresExp())


class _Erred(Exception):
    pass


class RefusesEverything(SlowContext):
    """A target that went down: it refuses every example, valid or not."""

    control_accepted = False

    def __init__(self) -> None:
        super().__init__()
        self.facts: dict[str, Any] = {}
        self.controls = 0

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Erred(message)

    def fact(self, name: str, value: Any, text: str) -> None:
        self.facts[name] = value

    def send(self, token: str, **kw: Any) -> Any:
        answer = super().send(token, **kw)
        answer.accepted = False
        return answer

    def valid(self, **_: Any) -> Any:
        self.controls += 1
        return SimpleNamespace(
            misbehaved=False, accepted=self.control_accepted, status=401, error=None
        )


def test_refusing_everything_is_no_pass_without_a_positive_control() -> None:
    """Refusing a valid example is a fact, not a failure: the refusals of the broken
    ones are then proved only by a control that is accepted after them."""
    ctx = RefusesEverything()
    with pytest.raises(_Erred, match="positive control"):
        oracle_case().run(ctx)
    assert ctx.controls == 1
    stricter = RefusesEverything()
    stricter.control_accepted = True  # stricter than the oracle, and up
    assert oracle_case().run(stricter) is None
    assert stricter.facts["claims_property_valid_examples_refused"] > 0
