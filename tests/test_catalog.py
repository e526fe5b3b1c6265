"""The catalog as data: ids, anchors, coverage of the threat catalog, flaws, helpers.

Fast: nothing here starts a server. Running the cases against the emulator is
``python -m pytest --pyargs conformance.suite`` (see docs/writing-cases.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conformance import forge
from conformance.catalog import (
    BY_ID,
    CASES,
    CATEGORIES,
    NOT_APPLICABLE,
    Expect,
    Level,
    claims,
    envelope,
    errors,
    issued,
    replay,
    scope,
    subject,
    times,
)
from conformance.catalog._builtin import _MODULES as MODULES

THREAT_CATALOG = Path(__file__).resolve().parents[2] / "shared" / "docs" / "threat-catalog.md"
#: rows per letter group (threat-catalog.md §1: "A 8 + B 23 + ... = 188 rows"), used when
#: the document is not on this machine: the row ids are then known, their expectations not
ROW_COUNTS = {
    "A": 8, "B": 23, "C": 18, "D": 17, "E": 11, "F": 18, "G": 22,
    "H": 12, "I": 6, "J": 11, "K": 15, "L": 11, "M": 4, "N": 12,
}  # fmt: skip
ID_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
MINE: dict[ModuleType, tuple[str, str]] = {
    envelope: ("envelope", "A"),
    claims: ("claims", "B"),
    times: ("time", "C"),
    replay: ("replay", "H"),
    subject: ("subject", "I"),
    scope: ("scope", "J"),
    issued: ("issued", "L"),
    errors: ("errors", "M"),
}  # the RFC 7523 rows (N) are rfc7523.py's


def _parsed_rows() -> dict[str, str]:
    """Row id -> expected result, parsed from the threat catalog's table (empty when the
    document is absent)."""
    rows: dict[str, str] = {}
    if THREAT_CATALOG.exists():
        for line in THREAT_CATALOG.read_text().splitlines():
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)]
            if len(cells) > 5 and re.fullmatch(r"[A-N]\d\d", cells[1]):
                rows[cells[1]] = cells[4]
    return rows


PARSED = _parsed_rows()
ROWS = PARSED or {f"{g}{i:02d}": "" for g, n in ROW_COUNTS.items() for i in range(1, n + 1)}
#: Tests that compare with the document itself: with the embedded fallback they would
#: compare ROW_COUNTS with itself, or find no ADVISORY row at all, and could not fail.
needs_threat_catalog = pytest.mark.skipif(
    not PARSED, reason=f"the threat catalog is not at {THREAT_CATALOG} (../shared/docs)"
)


@needs_threat_catalog
def test_the_threat_catalog_has_its_188_rows() -> None:
    assert len(ROWS) == sum(ROW_COUNTS.values()) == 188
    for group, count in ROW_COUNTS.items():
        assert sum(1 for r in ROWS if r[0] == group) == count, group


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_id_is_dotted_snake_case_under_its_category(case: Any) -> None:
    assert ID_PATTERN.match(case.id), case.id
    assert case.id.split(".")[0] == case.category
    assert case.title.strip() and case.rationale.strip() and case.correct.strip()


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) == len(BY_ID)


def test_every_anchor_is_a_threat_catalog_row() -> None:
    unknown = {(c.id, a) for c in CASES for a in c.anchors if a not in ROWS}
    assert not unknown
    assert all(c.anchors for c in CASES), [c.id for c in CASES if not c.anchors]


def test_not_applicable_rows_exist_and_say_why() -> None:
    for row, reason in NOT_APPLICABLE.items():
        assert row in ROWS, row
        assert len(reason) > 20, row


def test_every_row_is_covered_or_not_applicable() -> None:
    covered = {a for c in CASES for a in c.anchors} | set(NOT_APPLICABLE)
    assert sorted(set(ROWS) - covered) == []


@pytest.mark.parametrize(
    ("module", "owned"), MINE.items(), ids=lambda v: getattr(v, "__name__", "")
)
def test_my_rows_are_all_covered_or_not_applicable(
    module: ModuleType, owned: tuple[str, str]
) -> None:
    category, group = owned
    covered = {a for c in module.CASES for a in c.anchors} | set(module.NOT_APPLICABLE)
    missing = sorted(r for r in ROWS if r[0] == group and r not in covered)
    assert missing == []
    assert {c.category for c in module.CASES} == {category}


def test_every_category_has_cases() -> None:
    assert {c.category for c in CASES} == set(CATEGORIES)
    assert all(module.CASES for module in MODULES)


def test_the_plan_has_at_least_250_cases() -> None:
    assert len(CASES) >= 250


def test_profiles_and_expectations_are_known() -> None:
    for c in CASES:
        assert c.profiles <= {"dynamic", "rfc7523"} and c.profiles, c.id
        assert set(c.expect_by_profile) <= {"dynamic", "rfc7523"}, c.id


@needs_threat_catalog
def test_advisory_rows_are_never_a_must_reject_alone() -> None:
    """A case anchored only on ADVISORY rows is a should, an accept, or an either
    (docs/writing-cases.md: levels follow the catalog)."""
    advisory = {r for r, expected in ROWS.items() if expected.startswith("ADVISORY")}
    mine = [c for m in MINE for c in m.CASES]
    # the check below only means something if some of these cases sit on ADVISORY rows
    assert any(set(c.anchors) <= advisory for c in mine if c.anchors)
    wrong = [
        c.id
        for c in mine
        if c.anchors
        and all(ROWS.get(a, "").startswith("ADVISORY") for a in c.anchors)
        and c.level is Level.MUST
        and c.expect is Expect.REJECT
        and not c.id.startswith("scope.value.")  # J09 (array) is a should; other types are invalid
    ]
    assert wrong == []


def test_every_flaw_of_the_emulator_has_a_case_on_its_rows() -> None:
    from conformance.emulator.flaws import FLAWS

    anchored = {a for c in CASES for a in c.anchors}
    orphans = {name: flaw.breaks for name, flaw in FLAWS.items() if not set(flaw.breaks) & anchored}
    assert orphans == {}


def test_importing_the_catalog_imports_nothing_heavy() -> None:
    code = (
        "import sys, conformance.catalog\n"
        "print([m for m in ('cryptography', 'jwt', 'httpx', 'starlette', 'hypothesis') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the helpers that forge what no library would --------------------------------------------


def test_break_signature_changes_every_byte_and_keeps_the_rest() -> None:
    token = forge.compact({"alg": "HS256"}, {"sub": "a"}, key=b"k" * 32)
    broken = envelope.break_signature(token)
    head, body, sig = token.split(".")
    assert broken.rsplit(".", 1)[0] == f"{head}.{body}"
    old, new = forge.b64url_decode(sig), forge.b64url_decode(broken.split(".")[2])
    assert len(old) == len(new) and all(a != b for a, b in zip(old, new, strict=True))


class _Ctx:
    """Just enough of a context for the payload builders."""

    settings = type("S", (), {"subjects": ("alice", "bob"), "scopes": ("wallet:export",)})()

    def assertion(self) -> Any:
        from conformance._assertion import Assertion

        return Assertion(sub="alice", scope="wallet:export", jti="j", exp=2_000_000_000)

    def now(self) -> int:
        return 1_900_000_000

    def skip(self, reason: str) -> None:
        raise pytest.skip.Exception(reason)


def test_duplicate_payload_carries_both_values_in_order() -> None:
    build = claims._duplicate("sub", claims._subject_b, claims._subject)
    raw = build(_Ctx())  # type: ignore[arg-type]
    assert raw.index(b'"sub":"bob"') < raw.index(b'"sub":"alice"')
    pairs = json.loads(raw, object_pairs_hook=lambda p: p)
    assert [v for k, v in pairs if k == "sub"] == ["bob", "alice"]
    assert json.loads(raw)["sub"] == "alice"  # Python's parser: last wins


@pytest.mark.parametrize(
    ("name", "what", "transform"), claims._SUB_VARIANTS, ids=[v[0] for v in claims._SUB_VARIANTS]
)
def test_subject_variants_differ_from_the_subject(name: str, what: str, transform: Any) -> None:
    import unicodedata

    variant = transform("conformance-a")
    if name == "nfd":  # an ASCII subject has no decomposition: the case skips itself
        assert variant == "conformance-a"
        assert unicodedata.normalize("NFD", "café") != "café"
        return
    assert variant != "conformance-a"
    if name in {"full_width", "compat_char"}:  # the trap: NFKC folds them back
        assert unicodedata.normalize("NFKC", variant) == "conformance-a"


def test_the_malleation_case_sends_a_high_s_twin_that_still_verifies() -> None:
    """``replay.same_jti.malleated`` sends the accepted token again with a different, still
    valid, signature (so only the jti can stop it). Runs the case's own recipe."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, utils

    from conformance._keyring import Keyring
    from conformance.targets.base import Exchange

    keyring = Keyring(published_algs=("ES256",))
    key = keyring.trusted("ES256")
    sent: list[str] = []

    class Ctx(_Ctx):
        """A target that accepts everything: the recipe's first use must be accepted."""

        def __init__(self) -> None:
            self.key = key
            self.keyring = keyring
            self.settings = type("S", (), {"default_alg": "ES256"})()

        def sign(self, assertion: Any, key: Any = None) -> str:
            return str(assertion.signed_with(key or self.key))

        def check(self, condition: bool, message: str) -> None:
            assert condition, message

        def accepted(self, exchange: Exchange) -> bool:
            return exchange.accepted

        def send(self, token: str, **_: Any) -> Exchange:
            sent.append(token)
            return Exchange("x", "POST", "u", {}, "", 200, {}, "{}", 1.0, issued_token="t")

    BY_ID["replay.same_jti.malleated"].run(Ctx())  # type: ignore[arg-type]
    assert len(sent) == 2
    first, twin = sent
    head, body, sig = first.split(".")
    assert twin.rsplit(".", 1)[0] == f"{head}.{body}"
    raw, other = forge.b64url_decode(sig), forge.b64url_decode(twin.split(".")[2])
    assert other != raw and other[:32] == raw[:32]  # same r, s replaced by n - s
    for signature in (raw, other):
        der = utils.encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        key.public_key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))


def test_disclosure_patterns_catch_known_leaks_and_spare_plain_errors() -> None:
    leaky = (
        "Invalid signature. Expected 8Qh5lJ5gSaQylkSdaCIDBoOqKzhoJ0Nutkkap8RgB1Y= got AAAA",
        'Traceback (most recent call last):\n  File "/app/x.py", line 3, in f',
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----",
        "KeyError('kid')",
    )
    plain = (
        "invalid signature",
        "jwt must be a non-empty string",
        "expected a JSON object",
        "-----BEGIN PUBLIC KEY-----",  # public: no disclosure
        "-----BEGIN CERTIFICATE-----",
    )
    for text in leaky:
        assert any(p.search(text) for p, _ in errors._LEAKS), text
    for text in plain:
        assert not any(p.search(text) for p, _ in errors._LEAKS), text


def test_the_hmac_dictionary_finds_a_common_secret() -> None:
    token = forge.compact({"alg": "HS256"}, {"scope": "wallet:export"}, key=b"secret")
    signing_input, sig = token.rsplit(".", 1)
    found = [
        s
        for s in issued.COMMON_SECRETS
        if hmac.compare_digest(
            hmac.new(s.encode(), signing_input.encode(), hashlib.sha256).digest(),
            forge.b64url_decode(sig),
        )
    ]
    assert found == ["secret"]


def test_no_row_is_both_covered_and_not_applicable() -> None:
    covered = {a for c in CASES for a in c.anchors}
    assert sorted(covered & set(NOT_APPLICABLE)) == []


def test_rfc7523_rows_are_covered_or_explained() -> None:
    """N01-N12 belong to the RFC 7523 profile: cases of that profile, or a reason."""
    rows = {f"N{i:02d}" for i in range(1, 13)}
    covered = {a for c in CASES if c.profiles == {"rfc7523"} for a in c.anchors}
    assert rows <= covered | set(NOT_APPLICABLE)


def test_dynamic_only_cases_are_those_that_need_dynamic_things() -> None:
    """Sessions, scopes and the guarded operation exist in the Dynamic profile only."""
    for module in MINE:
        for c in module.CASES:
            if (
                c.needs & {"sessions", "second_user", "sensitive_operation"}
                or c.category == "scope"
            ):
                assert c.profiles == {"dynamic"}, c.id
