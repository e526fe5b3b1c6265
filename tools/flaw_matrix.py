"""Print the flaw matrix as a Markdown table: for every named flaw of the emulator, the
threat-catalog rows it breaks, the cases anchored on them, and which of those fail.

    python tools/flaw_matrix.py > /tmp/matrix.md

It runs the packaged suite once per flaw (only the anchored cases, --strict) against the
embedded emulator. The same property is asserted by tests/test_suite_embedded.py. A shape
flaw (``Flaw.shape``: one route of ``emulator/shapes.py``, or Dynamic's sign-in) is run
through its shipped profile against a separately started emulator
(``tests/profiled_emulator.py``), as tests/test_profile_shapes.py does.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

from conformance import cli
from conformance.catalog import CASES
from conformance.emulator import FLAWS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from profiled_emulator import profiled_emulator  # a test helper


def _run(argv: list[str], shape: str | None, flaw: str, tmp: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        if shape is None:
            cli.main([*argv, "--flaw", flaw])
            return
        with profiled_emulator(Path(tmp), shape, flaws=(flaw,)) as config:
            cli.main([*argv, "--config", str(config)])


def main() -> int:
    rows = [
        "| flaw | through | breaks rows | cases on those rows | failing with the flaw "
        "| for example |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(FLAWS):
        breaks = set(FLAWS[name].breaks)
        ids = sorted(c.id for c in CASES if breaks & set(c.anchors))
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                "run",
                "--no-report",
                "--strict",
                "--report-dir",
                tmp,
                "--examples",
                "10",
            ]
            for case_id in ids:
                argv += ["--id", case_id]
            shape = FLAWS[name].shape
            _run(argv, shape, name, tmp)
            data = json.loads((Path(tmp) / "results.json").read_text())
        failing = [c["id"] for c in data["cases"] if c["verdict"] == "fail"]
        example = ", ".join(f"`{i}`" for i in failing[:2])
        rows.append(
            f"| `{name}` | {shape or 'embedded'} | {' '.join(sorted(breaks))} | {len(ids)} "
            f"| {len(failing)} | {example} |"
        )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
