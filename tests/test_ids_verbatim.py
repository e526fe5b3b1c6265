"""Every case id of the catalog survives every output verbatim.

Case ids have three dotted parts, as compact JWSs do; a redaction pass that took them for
tokens turned ``header.jwk.es256_no_kid`` into ``header.jwk.[signature cut: 12 chars]``
in headings, anchors, the diff and the re-run line. The fast tests put every id through
the text functions each output uses (cheap); one real run of the header category (whose
ids were mangled) checks the files themselves.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import msgspec
import pytest
from catalog_results import results_with
from factories import with_verdicts, write_results

from conformance._junit import _x, junit_tree
from conformance._redact import one_line, scrub
from conformance._sarif import sarif_document
from conformance._schema import Results
from conformance.catalog import CASES
from conformance.report import diff_results
from conformance.report._text import esc, plain, slug

IDS = [c.id for c in CASES]
#: shapes an extension's ids may take (a lower-case start that base64url of "{" has too)
EXTENSION_IDS = ["ewxx.acme.custom_check", "e0.acme.abcdefghijkl", "acme.e_w.z9_long_segment"]


@pytest.mark.parametrize("case_id", [*IDS, *EXTENSION_IDS])
def test_each_text_function_of_every_output_keeps_the_id(case_id: str) -> None:
    assert plain(case_id) == case_id  # notebook, diff text, figures
    assert esc(case_id) == html.escape(case_id) == case_id  # HTML
    assert slug(case_id) == case_id  # HTML anchors
    assert scrub(case_id) == one_line(case_id) == case_id  # results.json, terminal
    assert _x(case_id) == case_id  # junit.xml
    rerun = f"pytest --pyargs conformance.suite -k 'test_case[{case_id}]'"
    assert plain(rerun) == rerun and _x(rerun) == rerun and scrub(rerun) == rerun


def test_every_id_is_verbatim_in_junit_sarif_and_diff() -> None:
    data = results_with(dict.fromkeys(IDS, "fail"))
    junit = ET.tostring(junit_tree(msgspec.convert(data, Results)).getroot(), encoding="unicode")
    names = {e.get("name") for e in ET.fromstring(junit).iter("testcase")}
    assert set(IDS) <= names
    log = sarif_document(data)
    messages = {r["properties"]["caseId"]: r["message"]["text"] for r in log["runs"][0]["results"]}
    assert set(messages) == set(IDS)
    assert all(m.startswith(f"{i} failed") for i, m in messages.items())
    before = results_with(dict.fromkeys(IDS, "pass"))
    text = diff_results(before, data).to_text()
    listed = {line.split()[0] for line in text.splitlines() if line.startswith("  ")}
    assert set(IDS) <= listed


@pytest.mark.slow
def test_a_real_run_keeps_every_id_of_the_header_category(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--category",
            "header",
            "--flaw",
            "embedded_jwk_trusted",
            "--flaw",
            "jku_trusted",
            "--report-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    ids = [c["id"] for c in results["cases"]]
    failed = [c["id"] for c in results["cases"] if c["verdict"] == "fail"]
    assert any(i.startswith("header.jwk.") for i in failed)
    page = (out / "report.html").read_text(encoding="utf-8")
    notebook = (out / "report.ipynb").read_text(encoding="utf-8")
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    sarif = json.loads((out / "results.sarif").read_text(encoding="utf-8"))
    for case_id in ids:
        assert case_id in page, case_id
        assert case_id in notebook, case_id
        assert f'name="{case_id}"' in junit, case_id
    sarif_ids = {r["properties"]["caseId"] for r in sarif["runs"][0]["results"]}
    assert set(failed) <= sarif_ids
    for case_id in failed:
        # the failure's heading and its re-run line (which must still run; a run that
        # conformance run started is re-run with conformance run's options)
        assert f"conformance run --id '{case_id}'" in page, case_id
    for text in (page, notebook, junit):
        for case_id in ids:
            stem = case_id.rsplit(".", 1)[0]
            assert f"{stem}.[signature cut" not in text, case_id
    flipped = with_verdicts(results, {i: "fail" for i in ids if i not in failed})
    newer = write_results(tmp_path / "newer.json", flipped)
    diff = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "diff", str(out / "results.json"), str(newer)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert diff.returncode == 1, diff.stderr
    listed = {line.split()[0] for line in diff.stdout.splitlines() if line.startswith("  ")}
    assert {i for i in ids if i not in failed} <= listed
