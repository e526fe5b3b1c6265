"""Property: the emulator accepts exactly the assertions the independent oracle calls valid.

Uses ``conformance/_oracle.py`` (written from the policy text, not from the emulator) and
the drawn claim sets and header mutations of ``conformance/strategies.py``. The
emulator's clock is pinned so the oracle and the server agree on ``now``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings

from conformance._oracle import Rules, violations
from conformance._settings import KNOWN_SCOPES
from conformance.emulator.testing import ISSUER_A, Harness, Keys, world
from conformance.forge import compact
from conformance.strategies import claim_sets, header_mutations

pytestmark = pytest.mark.slow

NOW = int(time.time())
AUDIENCE = "https://app.example"
VALID_CLAIMS = {
    "iss": ISSUER_A,
    "sub": "alice",
    "aud": AUDIENCE,
    "scope": "wallet:export",
    "jti": "base-jti",
    "iat": NOW - 5,
    "exp": NOW + 120,
}
#: kid -> the JWS alg its key is published for (environment A of the test keys)
KID_ALGS = {"a-ec": "ES256", "a-rsa": "RS256", "a-p384": "ES384", "a-ed": "EdDSA"}
RULES = Rules(issuer=ISSUER_A, audience=AUDIENCE, subject="alice", known_scopes=KNOWN_SCOPES)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@dataclass(frozen=True)
class Pinned:
    harness: Harness
    session: str = field(repr=False)  # a bearer secret: keep it out of failure reports


@pytest.fixture(scope="module")
def pinned(keys: Keys) -> Iterator[Pinned]:
    with world(keys, audience=AUDIENCE, clock=lambda: float(NOW)) as h:
        yield Pinned(h, h.signin("alice", aud=AUDIENCE))


def _selected_kid(header: dict[str, Any]) -> str | None:
    """The published key the header selects (the policy's rule), or None."""
    if "kid" in header:
        kid = header["kid"]
        return kid if isinstance(kid, str) and kid in KID_ALGS else None
    matching = [kid for kid, alg in KID_ALGS.items() if alg == header.get("alg")]
    return matching[0] if len(matching) == 1 else None


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    claims=claim_sets(valid=VALID_CLAIMS, now=NOW),
    header=header_mutations(valid={"alg": "ES256", "kid": "a-ec"}, kids=list(KID_ALGS)),
)
def test_emulator_agrees_with_oracle(
    pinned: Pinned, keys: Keys, claims: dict[str, Any], header: dict[str, Any]
) -> None:
    h, session = pinned.harness, pinned.session
    # Drawn examples repeat (shrinking, derandomize): replay is not under test here.
    h.emulator.store.forget_jtis()
    kid = _selected_kid(header)
    expected = violations(
        header, claims, rules=RULES, now=NOW, key_alg=KID_ALGS[kid] if kid else None
    )
    # Sign with the key the header selects, so a refusal is never just a bad signature.
    private, key_alg, _ = keys.trusted[kid or "a-ec"]
    token = compact(header, claims, key=private, alg=key_alg)
    reply = h.verify(session, token)
    assert reply.status_code < 500, reply.text
    accepted = reply.status_code == 200
    event("accepted" if accepted else "rejected")
    assert accepted == (not expected), (expected, reply.status_code, reply.text, header, claims)
