"""The policy-variant matrix: the whole plan against the emulator's legitimate policy
variants (``conformance/emulator/variants.py``), told none of their numbers, gives no
``fail`` and no ``error`` — strictness or leniency that hands an attacker nothing is
never judged a defect. Warnings are allowed and printed (``pytest -s``).

Compatible variants are composed, so that three runs of the plan cover all of them; each
run also proves its variants took effect (a matrix of no-ops would pass vacuously). These
start real servers on loopback ports, in process (``run_case`` over ``open_embedded``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from conformance._embedded import open_embedded
from conformance._engine import CaseResult, run_case
from conformance._runtime import check_baseline
from conformance._selection import select_cases
from conformance._settings import PropertySettings
from conformance.catalog import CASES
from conformance.emulator import VARIANTS, check_variants

pytestmark = pytest.mark.slow

#: Every variant in exactly one run; the variants of a run compose (no shared setting).
RUNS: tuple[tuple[str, ...], ...] = (
    (
        "leeway_5s",
        "max_lifetime_3600s",
        "iss_optional",
        "lenient_json",
        "lenient_base64url",
        "kid_ignored_single_key",
        "refusals_400",
    ),
    (
        "leeway_120s",
        "typ_unchecked",
        "duplicates_last_wins",
        "unknown_header_refused",
        "refusals_403",
    ),
    ("refusals_401", "unknown_claims_refused"),
)
SEED = 7523  # the property cases draw the same examples every run

#: What each variant visibly changes: (case id, verdict) pairs the clean emulator would
#: not give (it passes every case).
EFFECTS: dict[str, tuple[tuple[str, str], ...]] = {
    "leeway_5s": (("time.skew.iat_nbf_plus_8s", "warn"),),
    "leeway_120s": (
        ("time.exp.past_beyond_recommended", "warn"),
        ("time.nbf.future_beyond_recommended", "warn"),
    ),
    "iss_optional": (("claims.iss.missing", "warn"),),
    "lenient_json": (
        ("encoding.json.payload_nan", "warn"),
        ("encoding.text.payload_utf16le", "warn"),
    ),
    "duplicates_last_wins": (("header.duplicate.alg_none_then_es256", "warn"),),
    "unknown_header_refused": (("header.unknown_member.string", "warn"),),
    "unknown_claims_refused": (("claims.extra.unknown_claims", "warn"),),
    "lenient_base64url": (
        ("encoding.whitespace.leading_space", "warn"),
        ("encoding.base64.padding_signature", "warn"),
    ),
    "kid_ignored_single_key": (("keys.kid.unknown", "warn"),),
    "typ_unchecked": (("header.typ.refused.at_jwt", "warn"),),
}
#: Facts the suite measured (it was told nothing): the brackets of each run.
MEASURED: dict[str, dict[str, str]] = {
    "leeway_5s": {"clock_tolerance_s": "< 10", "nbf_tolerance_s": "< 10"},
    "leeway_120s": {"clock_tolerance_s": "90–180", "nbf_tolerance_s": "90–180"},
    "max_lifetime_3600s": {"max_assertion_lifetime_s": "3000–4500"},
    "refusals_401": {
        "clock_tolerance_s": "20–45",  # the default policy: 30 s, 600 s
        "max_assertion_lifetime_s": "300–800",
    },
}
#: Cases refused for different reasons (malformed: 400, expired: 401, another user: 403
#: on the clean emulator): a refusals_* variant answers them all with its one status.
STATUS_CASES = ("encoding.segments.one", "time.exp.past_1day", "claims.sub.other_user")


@dataclass(frozen=True)
class Run:
    variants: tuple[str, ...]
    results: dict[str, CaseResult]
    facts: dict[str, dict[str, object]]
    declared: tuple[int | None, int | None, int | None]


def run_plan(variants: Sequence[str], *, examples: int = 25) -> Run:
    """The whole dynamic plan against the embedded emulator with ``variants``."""
    plan = select_cases(CASES, profile="dynamic")
    properties = PropertySettings(examples=examples, seed=SEED)
    with open_embedded(variants=variants, properties=properties) as runtime:
        check_baseline(runtime)
        results = {case.id: run_case(runtime, case) for case in plan}
        s = runtime.settings
        return Run(
            tuple(variants),
            results,
            dict(runtime.facts),
            (s.leeway_s, s.max_assertion_lifetime_s, s.max_token_lifetime_s),
        )


@pytest.fixture(scope="module", params=RUNS, ids=["+".join(r) for r in RUNS])
def run(request: pytest.FixtureRequest) -> Run:
    return run_plan(request.param)


def test_runs_cover_every_variant_once_and_compose() -> None:
    named = [name for variants in RUNS for name in variants]
    assert sorted(named) == sorted(VARIANTS)
    for variants in RUNS:
        assert check_variants(variants) == frozenset(variants)


def test_no_fail_and_no_error_against_the_variants(run: Run) -> None:
    warned = sorted(i for i, r in run.results.items() if r.verdict == "warn")
    print(f"\n{'+'.join(run.variants)}: {len(warned)} warnings: {', '.join(warned)}")
    bad = [
        (i, r.verdict, r.message[:300])
        for i, r in run.results.items()
        if r.verdict in {"fail", "error"}
    ]
    assert bad == []


def test_the_suite_is_told_no_policy_number(run: Run) -> None:
    assert run.declared == (None, None, None)
    skipped = {i for i, r in run.results.items() if r.verdict == "skip"}
    # the two-sided cases need a declared number; their measured counterparts ran
    assert {"time.exp.past_inside_leeway", "time.lifetime.under_max"} <= skipped
    assert not {"time.exp.tolerance_measured", "time.lifetime.measured"} & skipped


def test_each_variant_takes_effect(run: Run) -> None:
    for variant in run.variants:
        for case_id, verdict in EFFECTS.get(variant, ()):
            got = run.results[case_id].verdict
            assert got == verdict, f"{variant}: {case_id} is {got}, not {verdict}"
        for fact, value in MEASURED.get(variant, {}).items():
            assert run.facts[fact]["value"] == value, f"{variant}: {fact} {run.facts[fact]}"
        if variant.startswith("refusals_"):
            status = int(variant.removeprefix("refusals_"))
            for case_id in STATUS_CASES:
                first = run.results[case_id].exchanges[0]
                assert first.status == status, f"{variant}: {case_id} answered {first.status}"
