"""Regenerate what is generated from the results.json models (conformance/_schema.py):

* ``conformance/schemas/results.schema.json`` (shipped in the package);
* the field tables of ``docs/results-schema.md``, between its BEGIN/END markers.

    python3 tools/results_schema.py          # rewrite both
    python3 tools/results_schema.py --check  # exit 1 when either is out of date

tests/test_schema.py fails when either file differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conformance._schema import json_schema_text, markdown_tables

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "conformance" / "schemas" / "results.schema.json"
DOC_FILE = ROOT / "docs" / "results-schema.md"
BEGIN = "<!-- BEGIN GENERATED: python3 tools/results_schema.py -->"
END = "<!-- END GENERATED -->"


def documented(doc: str) -> str:
    """``doc`` with the text between the markers replaced by the current tables.

    Raises ``ValueError`` when a marker is missing or they are out of order.
    """
    head, sep, rest = doc.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{DOC_FILE.name}: the markers {BEGIN!r} … {END!r} are missing")
    return f"{head}{BEGIN}\n\n{markdown_tables()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    wanted = {
        SCHEMA_FILE: json_schema_text(),
        DOC_FILE: documented(DOC_FILE.read_text(encoding="utf-8")),
    }
    stale = []
    for path, text in wanted.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if check else 'written'}: {path.relative_to(ROOT)}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
