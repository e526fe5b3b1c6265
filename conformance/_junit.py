"""junit.xml from results: one testcase per case id (a consumer of results.json).

``fail`` → ``<failure>``, ``error`` → ``<error>`` (both with the one-screen failure as
text), ``skip`` → ``<skipped>``; ``warn`` and ``waived`` pass for CI and say why in
``<system-out>``. The testsuite's properties carry the run verdict and its coverage; an
``incomplete`` run adds a ``run.complete`` testcase with an ``<error>``, so that CI never
shows it green. ElementTree escapes markup; characters XML 1.0 cannot carry at all
(control characters, lone surrogates, U+FFFE/U+FFFF) become visible escapes here, and so
do the ones it can but a reader should never meet raw (CR, DEL, C1, the bidi overrides
and isolates), since a results file written by another version or edited by hand may
still hold them; a compact JWS that slipped through has its signature cut.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from ._redact import cut_signatures

if TYPE_CHECKING:
    from ._schema import Results


# what XML 1.0 cannot carry, and CR, DEL, C1 and the bidi marks/overrides/isolates it can
_NOT_XML = re.compile(
    "[^\t\n\x20-\x7e\xa0-\u061b\u061d-\u200d\u2010-\u2029\u202f-\u2065\u206a-\ud7ff"
    "\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _x(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry, or a reader should not meet
    raw, made a visible escape."""
    return cut_signatures(
        _NOT_XML.sub(
            lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}",
            text,
        )
    )


def junit_tree(results: Results) -> ET.ElementTree[ET.Element[str]]:
    cases = results.cases
    summary = results.summary
    counts = summary.counts
    cov = summary.coverage
    incomplete = summary.verdict == "incomplete"
    suite = ET.Element(
        "testsuite",
        name="exchange-conformance",
        tests=str(len(cases) + incomplete),
        failures=str(counts.fail),
        errors=str(counts.error + incomplete),
        skipped=str(counts.skip),
        time=f"{results.run.duration_s:.3f}",
        timestamp=_x(results.run.started_at),
    )
    props = ET.SubElement(suite, "properties")
    run_props: list[tuple[str, str]] = [("verdict", summary.verdict)]
    if cov is not None:
        run_props += [
            ("complete", str(cov.complete).lower()),
            ("catalog", str(cov.catalog)),
            ("selected", str(cov.selected)),
            ("ran", str(cov.ran)),
            ("skipped", str(cov.skipped)),
            ("not_run", str(cov.not_run)),
            ("critical_unproved", str(cov.critical_unproved)),
        ]
        run_props += [("stopped", _x(cov.stopped))] if cov.stopped else []
        run_props += [("gap", _x(gap)) for gap in cov.gaps]
    for name, text in run_props:
        ET.SubElement(props, "property", name=name, value=text)
    if incomplete:
        # CI shows a red run even when every recorded case passed: the rest never ran
        tc = ET.SubElement(suite, "testcase", classname="conformance.run", name="run.complete")
        not_run = cov.not_run if cov is not None else 0
        el = ET.SubElement(
            tc,
            "error",
            message=_x(f"run incomplete: {not_run} selected cases did not run"),
            type="incomplete",
        )
        el.text = _x(cov.stopped if cov is not None else "the run stopped early")
    for c in cases:
        tc = ET.SubElement(
            suite,
            "testcase",
            classname=_x(f"conformance.{c.category}"),
            name=_x(c.id),
            time=f"{c.duration_ms / 1000:.4f}",
        )
        props = ET.SubElement(tc, "properties")
        for key, value in (
            ("level", c.level),
            ("severity", c.severity),
            ("expect", c.expect),
            ("kind", c.kind),
            ("outcome", c.outcome),
            ("verdict", c.verdict),
        ):
            ET.SubElement(props, "property", name=key, value=value)
        if c.verdict == "fail":
            el = ET.SubElement(tc, "failure", message=_x(f"{c.id}: {c.title}"), type=c.severity)
            el.text = _x(c.failure or c.message)
        elif c.verdict == "error":
            el = ET.SubElement(tc, "error", message=_x(f"{c.id}: target misbehaved"), type="error")
            el.text = _x(c.failure or c.message)
        elif c.verdict == "skip":
            ET.SubElement(tc, "skipped", message=_x(c.message[:500]))
        elif c.verdict in {"warn", "waived"}:
            out = ET.SubElement(tc, "system-out")
            out.text = _x(f"{c.verdict}: {c.failure or c.message}")
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.ElementTree(root)


def write_junit(path: Path, results: Results) -> Path:
    tree = junit_tree(results)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
