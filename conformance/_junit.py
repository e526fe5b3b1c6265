"""junit.xml from results: one testcase per case id (a consumer of results.json)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def junit_tree(results: Mapping[str, Any]) -> ET.ElementTree[ET.Element[str]]:
    cases = results["cases"]
    counts = results["summary"]["counts"]
    suite = ET.Element(
        "testsuite",
        name="exchange-conformance",
        tests=str(len(cases)),
        failures=str(counts["fail"]),
        errors=str(counts["error"]),
        skipped=str(counts["skip"]),
        time=f"{results['run'].get('duration_s', 0):.3f}",
        timestamp=str(results["run"].get("started_at", "")),
    )
    for c in cases:
        tc = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{c['category']}",
            name=c["id"],
            time=f"{c['duration_ms'] / 1000:.4f}",
        )
        props = ET.SubElement(tc, "properties")
        for key in ("level", "severity", "expect", "outcome", "verdict"):
            ET.SubElement(props, "property", name=key, value=str(c[key]))
        verdict = c["verdict"]
        if verdict == "fail":
            el = ET.SubElement(
                tc, "failure", message=f"{c['id']}: {c['title']}", type=c["severity"]
            )
            el.text = c.get("failure") or c["message"]
        elif verdict == "error":
            el = ET.SubElement(tc, "error", message=f"{c['id']}: target misbehaved", type="error")
            el.text = c.get("failure") or c["message"]
        elif verdict == "skip":
            ET.SubElement(tc, "skipped", message=c["message"][:500])
        elif verdict in {"warn", "waived"}:
            out = ET.SubElement(tc, "system-out")
            out.text = f"{verdict}: {c.get('failure') or c['message']}"
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.ElementTree(root)


def write_junit(path: Path, results: Mapping[str, Any]) -> Path:
    tree = junit_tree(results)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
