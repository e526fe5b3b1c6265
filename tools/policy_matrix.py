"""Print the policy-variant matrix as a Markdown table: for every named policy variant
of the emulator (a legitimate difference, not a flaw), the verdicts of the whole plan run
against it with the suite told none of its numbers, and the warned case ids.

    python tools/policy_matrix.py > /tmp/policy-matrix.md

It runs the plan once per variant, in process, against the embedded emulator. The
property that matters — no ``fail`` and no ``error`` against any variant — is asserted by
tests/test_policy_variants.py (on composed variants, in three runs).

    python tools/policy_matrix.py --shapes > /tmp/policy-matrix-shapes.md

runs instead each shipped shape profile (``tests/profiled_emulator.py``: Dynamic's
sign-in, RFC 8693, Stytch attest, Privy custom JWT) against each variant, with the
claims, signature and issued categories (tests/test_profile_shapes.py asserts it on
composed variants).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from conformance._embedded import open_embedded
from conformance._engine import run_case
from conformance._runtime import check_baseline
from conformance._selection import select_cases
from conformance._settings import PropertySettings
from conformance.catalog import CASES
from conformance.emulator import VARIANTS

SEED = 7523
FACTS = ("clock_tolerance_s", "nbf_tolerance_s", "max_assertion_lifetime_s")


def shapes() -> int:
    """One row per shape profile and variant: the verdict counts of a focused run."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from profiled_emulator import SHAPE_PARAMS, profiled_emulator  # lazy: a test helper

    from conformance import cli  # lazy: only this table runs the CLI

    rows = [
        "| profile | variant | pass | warn | skip | fail | error | warned |",
        "|---|---|---|---|---|---|---|---|",
    ]
    from conformance._profile import shipped  # lazy: only this table reads profiles

    for shape in sorted(SHAPE_PARAMS):
        for name in VARIANTS:
            if name == "iss_optional" and "iss" in shipped(shape).claims.required:
                # the contract requires iss: dropping it is no legitimate policy there
                rows.append(f"| `{shape}` | `{name}` | — | — | — | — | — | (iss required) |")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                home = Path(tmp)
                argv = ["run", "--no-report", "--report-dir", tmp, "--examples", "10"]
                argv += ["--category", "claims", "--category", "signature"]
                argv += ["--category", "issued"]  # the [issued] checks each profile declares
                with (
                    profiled_emulator(home, shape, variants=(name,)) as config,
                    contextlib.redirect_stdout(io.StringIO()),
                ):
                    cli.main([*argv, "--config", str(config)])
                cases = json.loads((home / "results.json").read_text())["cases"]
            counts = Counter(c["verdict"] for c in cases)
            warned = ", ".join(f"`{c['id']}`" for c in cases if c["verdict"] == "warn") or "—"
            rows.append(
                f"| `{shape}` | `{name}` | {counts['pass']} | {counts['warn']} "
                f"| {counts['skip']} | {counts['fail']} | {counts['error']} | {warned} |"
            )
            print(f"{shape} {name}: {dict(counts)}", file=sys.stderr, flush=True)
    print("\n".join(rows))
    return 0


def main() -> int:
    if "--shapes" in sys.argv[1:]:
        return shapes()
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
