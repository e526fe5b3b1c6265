"""The crypto-side catalog modules (algorithms, signature, keys, header, encoding).

Static checks (ids, anchors, coverage of the threat-catalog rows) and a dry run of every
recipe against a fake context: each token a case sends is judged by a small strict
verifier written here (independent of the emulator), and must be good exactly when the
case expects acceptance. Fast: no servers.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from conformance import forge
from conformance._assertion import Assertion
from conformance._jwks_host import FAILURE_MODES
from conformance._keyring import ALGS, Keyring
from conformance._settings import TargetSettings
from conformance.catalog import algorithms, encoding, header, keys, signature
from conformance.catalog._model import Case, Expect
from conformance.targets.base import Exchange

MODULES = {
    "algorithms": (algorithms, "D", 17),
    "signature": (signature, "E", 11),
    "keys": (keys, "F", 18),
    "header": (header, "G", 22),
    "encoding": (encoding, "K", 15),
}
CATALOG = Path(__file__).resolve().parents[2] / "shared" / "docs" / "threat-catalog.md"
ALL_CASES = [c for module, _, _ in MODULES.values() for c in module.CASES]
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _rows(letter: str, count: int) -> set[str]:
    return {f"{letter}{i:02d}" for i in range(1, count + 1)}


# --- static checks -----------------------------------------------------------------------


def test_enough_cases() -> None:
    assert len(ALL_CASES) >= 150


@pytest.mark.parametrize("category", MODULES)
def test_ids_are_well_formed_and_in_category(category: str) -> None:
    module, _, _ = MODULES[category]
    assert module.CASES
    for c in module.CASES:
        assert _ID.match(c.id), c.id
        assert c.id.startswith(category + ".")
        assert c.category == category
        assert c.title
        assert c.rationale
        assert c.anchors


def test_ids_are_unique() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("category", MODULES)
def test_every_row_is_covered_or_not_applicable(category: str) -> None:
    module, letter, count = MODULES[category]
    anchored = {a for c in module.CASES for a in c.anchors}
    assert anchored <= _rows(letter, count)
    assert _rows(letter, count) == anchored | set(module.NOT_APPLICABLE)


@pytest.mark.skipif(not CATALOG.exists(), reason="threat catalog not at ../shared/docs")
def test_anchors_exist_in_the_threat_catalog() -> None:
    text = CATALOG.read_text(encoding="utf-8")
    for c in ALL_CASES:
        for anchor in c.anchors:
            assert f"| {anchor} |" in text, (c.id, anchor)


def test_failure_modes_match_the_jwks_host() -> None:
    assert keys.FAILURE_MODES == FAILURE_MODES


def test_allowed_algs_are_the_reference_policy_and_each_has_a_working_positive_case(
    keyring: Keyring,
) -> None:
    # The documented allow-list (docs/reference-policy.md), not another name of the same
    # tuple: the catalog, the keyring and the emulator all read ALLOWED_ALGS.
    policy = (Path(__file__).resolve().parents[1] / "docs" / "reference-policy.md").read_text()
    listed = re.search(r"allow-list: (.*?) \(exact case\)", policy, flags=re.S)
    assert listed is not None
    assert tuple(listed.group(1).split()) == algorithms.ALLOWED_ALGS == ALGS
    for alg in algorithms.ALLOWED_ALGS:
        c = next(c for c in algorithms.CASES if c.id == f"algorithms.allowed.{alg.lower()}")
        assert c.expect is Expect.ACCEPT
        ctx = FakeContext(keyring)
        c.run(ctx)  # type: ignore[arg-type]
        (token,) = ctx.sent
        assert json.loads(forge.b64url_decode(token.split(".")[0]))["alg"] == alg
        assert strictly_valid(token, keyring), alg


# --- a fake context and a strict verifier ------------------------------------------------


@dataclass
class FakeHost:
    """Enough of the JWKS host for the recipes. A send triggers a fetch while fewer than
    ``budget`` happened (1: a rate-limited target; large: one that fetches every time)."""

    keyring: Keyring
    budget: int = 1
    fetches: int = 0
    jwks_url: str = "http://127.0.0.1:9/jwks.json"
    attacker_jwks_url: str = "http://127.0.0.1:9/attacker/jwks.json"
    attacker_cert_url: str = "http://127.0.0.1:9/attacker/cert.pem"
    overrides: list[Mapping[str, Any]] = field(default_factory=list)

    base_url: str = "http://127.0.0.1:9"
    bound_url: str = "http://127.0.0.1:9"

    def fetch_count(self, path: str = "/jwks.json") -> int:
        return self.fetches

    @staticmethod
    def unique_path(prefix: str) -> str:
        return f"{prefix}/{secrets.token_hex(8)}"

    def redirect(self, path: str, location: str) -> None:
        pass

    def restore(self, path: str) -> None:
        pass

    def requests(self, prefix: str | None = None) -> list[Any]:
        return []

    @contextlib.contextmanager
    def overriding(self, path: str, body: Mapping[str, Any]) -> Iterator[None]:
        self.overrides.append(body)
        yield

    @contextlib.contextmanager
    def failing(self, path: str, mode: str) -> Iterator[None]:
        assert mode in FAILURE_MODES
        yield

    def rotate(self, alg: str) -> Any:
        key = self.keyring.rotation(alg)
        self.keyring.publish(key)
        return key

    def revoke(self, kid: str) -> None:
        self.keyring.revoke(kid)


class FakeContext:
    """A CaseContext that records tokens and answers with a refusal (or a token when the
    strict verifier accepts, so polling recipes stop)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        # The fake cannot serve overridden JWKS keys: a tiny refetch interval keeps the
        # key cases from waiting for a refetch that never comes.
        self.settings = TargetSettings(issuer="https://issuer.example", jwks_refetch_s=0.01)
        self.sent: list[str] = []
        self.jwks_host = FakeHost(keyring)
        self.listener = self.jwks_host
        # a target without optional calls: recipes that ask for one skip
        self.target = SimpleNamespace(capabilities=frozenset())

    @property
    def key(self) -> Any:
        return self.keyring.trusted("ES256")

    def now(self) -> int:
        return 1_900_000_000

    def assertion(self, **_: Any) -> Assertion:
        return Assertion(
            iss=self.settings.issuer,
            sub=self.settings.subjects[0],
            scope=self.settings.scopes[0],
            jti=secrets.token_urlsafe(8),
            iat=self.now(),
            exp=self.now() + 120,
        )

    def sign(self, assertion: Assertion, key: Any = None, alg: str | None = None) -> str:
        return assertion.signed_with(key or self.key, alg=alg)

    def send(self, token: str, **_: Any) -> Exchange:
        self.sent.append(token)
        if self.jwks_host.fetches < self.jwks_host.budget:
            self.jwks_host.fetches += 1
        good = strictly_valid(token, self.keyring)
        return Exchange(
            label="attempt",
            method="POST",
            url="http://target",
            request_headers={},
            request_body="",
            status=200 if good else 401,
            response_headers={},
            response_body="{}",
            latency_ms=1.0,
            issued_token="t" if good else None,
        )

    def check(self, condition: bool, message: str) -> None:
        assert condition, message

    def fail(self, message: str) -> None:
        raise AssertionError(message)

    def error(self, message: str) -> None:
        raise AssertionError(message)

    def fact(self, name: str, value: Any, detail: str = "") -> None:
        pass

    def sleep(self, seconds: float) -> None:
        # No real target behind this context: waiting would only slow the test down.
        self.slept = getattr(self, "slept", 0.0) + seconds

    def skip(self, reason: str) -> None:
        pytest.skip(reason)


def _strict_json(segment: str) -> dict[str, Any] | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", segment):
        return None
    try:
        raw = forge.b64url_decode(segment)
    except (binascii.Error, ValueError):
        return None
    if forge.b64url_encode(raw) != segment:
        return None

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [n for n, _ in pairs]
        if len(names) != len(set(names)):
            raise ValueError("duplicate")
        return dict(pairs)

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def strictly_valid(token: str, keyring: Keyring) -> bool:
    """The reference policy's signature and header rules, written independently."""
    parts = token.split(".")
    if len(parts) != 3 or not re.fullmatch(r"[A-Za-z0-9_-]+", parts[2]):
        return False
    head, claims = _strict_json(parts[0]), _strict_json(parts[1])
    if head is None or claims is None or head.get("alg") not in ALGS:
        return False
    if any(name in head for name in ("crit", "b64", "zip", "cty")):
        return False
    typ = head.get("typ")
    if typ is not None and (
        not isinstance(typ, str) or typ.lower() not in ("jwt", "application/jwt")
    ):
        return False
    published = {k.kid: k for k in keyring.published()}
    kid = head.get("kid")
    if kid is None:
        fitting = [k for k in published.values() if k.alg == head["alg"]]
        if len(fitting) != 1:
            return False
        key = fitting[0]
    elif isinstance(kid, str) and kid in published:
        key = published[kid]
    else:
        return False
    if key.alg != head["alg"]:
        return False
    try:
        jwt.api_jws.decode(token, key.public_key, algorithms=[key.alg])
    except jwt.PyJWTError:
        return False
    return True


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring()


def _offline(c: Case) -> bool:
    """Cases whose verdict depends only on the token (not on a changed JWKS)."""
    return c.category != "keys" and "jwks_host" not in c.needs


@pytest.mark.parametrize("c", ALL_CASES, ids=lambda c: c.id)
def test_recipe_runs_and_sends(c: Case, keyring: Keyring) -> None:
    ctx = FakeContext(keyring)
    returned = c.run(ctx)  # type: ignore[arg-type]
    assert ctx.sent, "the recipe sent nothing"
    assert returned is None or isinstance(returned, Exchange)


@pytest.mark.parametrize("c", [c for c in ALL_CASES if _offline(c)], ids=lambda c: c.id)
def test_tokens_are_good_exactly_when_accepted(c: Case, keyring: Keyring) -> None:
    ctx = FakeContext(keyring)
    c.run(ctx)  # type: ignore[arg-type]
    verdicts = {strictly_valid(token, keyring) for token in ctx.sent}
    if c.expect is Expect.ACCEPT:
        assert verdicts == {True}
    elif c.expect is Expect.REJECT:
        assert verdicts == {False}


def selected(prefix: str, cases: list[Case] = ALL_CASES) -> list[Case]:
    """The cases whose id starts with ``prefix``; never none (a loop over nothing passes)."""
    chosen = [c for c in cases if c.id.startswith(prefix)]
    assert chosen, f"no case id starts with {prefix!r}"
    return chosen


def test_key_confusion_tokens_mac_with_the_public_key(keyring: Keyring) -> None:
    import hashlib
    import hmac

    for c in selected("algorithms.key_confusion.rs256.hs256."):
        ctx = FakeContext(keyring)
        c.run(ctx)
        encoding_name = c.id.rsplit(".", 1)[1]
        secret = forge.public_key_bytes(keyring.trusted("RS256"), encoding_name)
        token = ctx.sent[0]
        mac = hmac.new(secret, forge.signing_input_of(token), hashlib.sha256).digest()
        assert hmac.compare_digest(mac, forge.signature_of(token))


def test_none_cases_carry_the_casing(keyring: Keyring) -> None:
    for c in selected("algorithms.none."):
        ctx = FakeContext(keyring)
        c.run(ctx)
        head = json.loads(forge.b64url_decode(ctx.sent[0].split(".")[0]))
        spelling = {"lowercase": "none", "capitalized": "None", "uppercase": "NONE"}
        assert head["alg"] == spelling.get(c.id.split(".")[2], "nOnE")
        assert (ctx.sent[0].split(".")[2] == "") is c.id.endswith("empty_signature")


def test_hostile_jwks_cases_serve_their_entries(keyring: Keyring) -> None:
    for c in selected("keys.jwks.", list(keys.CASES)):
        ctx = FakeContext(keyring)
        c.run(ctx)  # type: ignore[arg-type]
        served = ctx.jwks_host.overrides[0]["keys"]
        kid = json.loads(forge.b64url_decode(ctx.sent[-1].split(".")[0]))["kid"]
        assert any(entry.get("kid") == kid for entry in served), c.id
        published = {k["kid"] for k in keyring.published_jwks()["keys"]}
        assert kid not in published  # a new kid: a correct target must refetch


def test_random_kid_flood_notices_amplification(keyring: Keyring) -> None:
    case = next(c for c in keys.CASES if c.id == "keys.random_kid_flood")
    naive = FakeContext(keyring)
    naive.jwks_host.budget = 1000  # a target that refetches on every unknown kid
    with pytest.raises(AssertionError, match="JWKS fetches"):
        case.run(naive)  # type: ignore[arg-type]
    assert len(naive.sent) == keys.FLOOD_KIDS


def test_random_kid_flood_allows_one_fetch_per_refetch_interval_its_sends_spanned() -> None:
    assert keys.flood_allowance(0.05, 0.1) == keys.FLOOD_MAX_FETCHES  # a quick flood
    assert keys.flood_allowance(0.35, 0.1) == 5  # one at once, one per interval begun
    assert keys.flood_allowance(2.0, 0.5) == 6  # a remote target, 100 ms per send
    assert keys.flood_allowance(1.0, 0.0) == keys.FLOOD_KIDS  # no limit declared
