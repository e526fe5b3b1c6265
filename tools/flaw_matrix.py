"""Print the flaw matrix as a Markdown table: for every named flaw of the emulator, the
threat-catalog rows it breaks, the cases anchored on them, and which of those fail.

    python tools/flaw_matrix.py > /tmp/matrix.md

It runs the packaged suite once per flaw (only the anchored cases, --strict) against the
embedded emulator. The same property is asserted by tests/test_suite_embedded.py.
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


def main() -> int:
    rows = [
        "| flaw | breaks rows | cases on those rows | failing with the flaw | for example |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(FLAWS):
        breaks = set(FLAWS[name].breaks)
        ids = sorted(c.id for c in CASES if breaks & set(c.anchors))
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                "run",
                "--no-report",
                "--strict",
                "--flaw",
                name,
                "--report-dir",
                tmp,
                "--examples",
                "10",
            ]
            for case_id in ids:
                argv += ["--id", case_id]
            with contextlib.redirect_stdout(io.StringIO()):
                cli.main(argv)
            data = json.loads((Path(tmp) / "results.json").read_text())
        failing = [c["id"] for c in data["cases"] if c["verdict"] == "fail"]
        example = ", ".join(f"`{i}`" for i in failing[:2])
        rows.append(
            f"| `{name}` | {' '.join(sorted(breaks))} | {len(ids)} | {len(failing)} | {example} |"
        )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
