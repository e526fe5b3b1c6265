"""Print the policy-variant matrix as a Markdown table: for every named policy variant
of the emulator (a legitimate difference, not a flaw), the verdicts of the whole plan run
against it with the suite told none of its numbers, and the warned case ids.

    python tools/policy_matrix.py > /tmp/policy-matrix.md

It runs the plan once per variant, in process, against the embedded emulator. The
property that matters — no ``fail`` and no ``error`` against any variant — is asserted by
tests/test_policy_variants.py (on composed variants, in three runs).
"""

from __future__ import annotations

import sys
from collections import Counter

from conformance._embedded import open_embedded
from conformance._engine import run_case
from conformance._runtime import check_baseline
from conformance._selection import select_cases
from conformance._settings import PropertySettings
from conformance.catalog import CASES
from conformance.emulator import VARIANTS

SEED = 7523
FACTS = ("clock_tolerance_s", "nbf_tolerance_s", "max_assertion_lifetime_s")


def main() -> int:
    plan = select_cases(CASES, profile="dynamic")
    rows = [
        "| variant | what it changes | pass | warn | skip | fail | error | measured | warned |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, variant in VARIANTS.items():
        properties = PropertySettings(examples=25, seed=SEED)
        with open_embedded(variants=(name,), properties=properties) as runtime:
            check_baseline(runtime)
            results = [run_case(runtime, case) for case in plan]
            facts = dict(runtime.facts)
        counts = Counter(r.verdict for r in results)
        warned = ", ".join(f"`{r.case.id}`" for r in results if r.verdict == "warn") or "—"
        measured = "; ".join(
            f"{fact.removesuffix('_s')} {facts[fact]['value']}" for fact in FACTS if fact in facts
        )
        rows.append(
            f"| `{name}` | {variant.description} | {counts['pass']} | {counts['warn']} "
            f"| {counts['skip']} | {counts['fail']} | {counts['error']} | {measured} | {warned} |"
        )
        print(f"{name}: {dict(counts)}", file=sys.stderr, flush=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
