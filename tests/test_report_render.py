"""End-to-end rendering: results.json -> executed report.ipynb -> offline report.html.

Starts Jupyter kernels (slow); each module-scoped fixture renders once.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from factories import HUGE_BODY_CHARS, make_results, with_verdicts, write_results

from conformance._exceptions import ConfigError
from conformance.findings import findings
from conformance.report import ReportPaths, ReportRenderError, render_report, views
from conformance.report import render as render_module
from conformance.report.render import inject_parameters

REPO = Path(__file__).resolve().parents[1]
SENTINEL = "sk_live_SENTINEL_7f3a9c_do_not_leak"

_URL_ATTRIBUTES = frozenset(
    {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "xlink:href"}
)
_CSS_REFS = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]*)|url\(\s*["']?([^"')\s]*)""")


class _RefCollector(HTMLParser):
    """Real tags' URL attributes, and @import/url() in <style> blocks and style=."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.links: list[str] = []  # <a href>: followed only when the reader clicks
        self._in_style = False

    def _css(self, text: str) -> None:
        self.refs += [a or b for a, b in _CSS_REFS.findall(text)]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if tag == "a" and name == "href":
                self.links.append(value or "")
            elif name in _URL_ATTRIBUTES:
                self.refs.append(value or "")
            elif name == "style" and value:
                self._css(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)


def external_refs(page: str) -> list[str]:
    """Every reference the browser would load in ``page`` that is not an inline data:
    URI or a #fragment (text that merely looks like an attribute is not a reference);
    links (``<a href>``) are :func:`external_links`."""
    collector = _RefCollector()
    collector.feed(page)
    collector.close()
    return [r for r in collector.refs if not (r.startswith("data:") or r.startswith("#"))]


def external_links(page: str) -> list[str]:
    """The ``<a href>`` of ``page`` that leave it (not a #fragment)."""
    collector = _RefCollector()
    collector.feed(page)
    collector.close()
    return [r for r in collector.links if not r.startswith("#")]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportPaths, dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    # A secret in the renderer's environment (the kernel inherits it) must not leak.
    mp.setenv("CONFORMANCE_DYNAMIC_API_TOKEN", SENTINEL)
    base = tmp_path_factory.mktemp("render")
    # warns=2: one of them (signature.case_0004) falls in a family with references
    data = make_results(n_cases=40, failures=3, critical=1, warns=2)
    old = with_verdicts(data, {"envelope.case_0000": "pass", "replay.case_0006": "fail"})
    baseline = write_results(base / "old" / "results.json", old)
    results = write_results(base / "new" / "results.json", data)
    try:
        paths = render_report(results, baseline=baseline, timeout_s=60)
    finally:
        mp.undo()
    return paths, data


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    base = tmp_path_factory.mktemp("hostile")
    results = write_results(base / "results.json", make_results(hostile=True, errors=1))
    return render_report(results, out_dir=base / "out", timeout_s=60)


pytestmark = pytest.mark.slow


def test_outputs_land_next_to_results(rendered: tuple[ReportPaths, dict[str, Any]]) -> None:
    paths, _ = rendered
    assert paths.notebook.name == "report.ipynb" and paths.html.name == "report.html"
    assert paths.notebook.parent == paths.html.parent
    assert (paths.html.parent / "results.json").is_file()


def test_notebook_is_executed_with_injected_parameters(
    rendered: tuple[ReportPaths, dict[str, Any]],
) -> None:
    nb = nbformat.read(rendered[0].notebook, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    index = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert "injected-parameters" in tags[index + 1]
    injected = nb.cells[index + 1].source
    assert "results_path = 'results.json'" in injected
    assert "baseline_path = '../old/results.json'" in injected
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type in ("error", "stream")]
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3
    # papermill's contract: one cell tagged "parameters" holding the defaults
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    namespace: dict[str, Any] = {}
    exec(params.source, namespace)
    assert namespace["SEND"] is False and namespace["CASE_ID"] is None
    assert namespace["results_path"] == "results.json" and namespace["CONFIG"] is None
    resend = next(c for c in code if "resend(" in c.source)
    assert resend.outputs == [] and "if SEND:" in resend.source


def test_html_has_verdict_pictures_and_sections(
    rendered: tuple[ReportPaths, dict[str, Any]],
) -> None:
    page = rendered[0].html.read_text(encoding="utf-8")
    assert "Not conformant: 3 failures, of which 1 critical" in page
    assert page.count('src="data:image/png;base64,') == 3
    assert 'alt="Verdicts by category"' in page
    anchors = ("summary", "findings", "attention", "run", "timing", "facts", "changes", "cases")
    positions = [page.index(f'id="{anchor}"') for anchor in anchors]
    assert positions == sorted(positions)  # findings first, the full case table last
    # The summary names each finding; the cards follow, the critical one on top.
    summary = page[page.index('id="summary"') : page.index('id="findings"')]
    assert summary.count('<a href="#finding-') == len(findings(rendered[1]))
    failures = page[page.index('id="findings"') : page.index('id="attention"')]
    assert failures.index("envelope.case_0000") < failures.index("claims.case_0001")
    assert "refuses it with a 4xx and issues no token" in failures
    assert "conformance/suite/test_catalog.py::test_case[envelope.case_0000]" in failures
    assert "[cut: 86 chars]" in failures
    # Waiver owner and expiry, skip reason, facts.
    assert "security@example.com" in page and "2027-01-31" in page
    assert "needs capability 'second_user'" in page
    assert "accepted exp=-29s, rejected exp=-31s" in page


def test_changes_since_baseline(rendered: tuple[ReportPaths, dict[str, Any]]) -> None:
    page = rendered[0].html.read_text(encoding="utf-8")
    changes = page[page.index('id="changes"') :]
    assert "Regressions (1)" in changes and "envelope.case_0000" in changes
    assert "Fixed (0)" not in changes and "replay.case_0006" in changes


def test_html_loads_nothing_from_the_network(
    rendered: tuple[ReportPaths, dict[str, Any]],
) -> None:
    page = rendered[0].html.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert external_refs(page) == []
    assert "<link" not in page.lower()
    # The only links that leave the page are the findings' references and CWE entries.
    allowed = {u for f in findings(rendered[1]) for u in f.references}
    allowed |= {
        f"https://cwe.mitre.org/data/definitions/{c.removeprefix('CWE-')}.html"
        for f in findings(rendered[1])
        for c in f.cwe
    }
    # ... and the identifiers the cases cite (CVE, GHSA, CWE, RFC sections)
    allowed |= {
        views._cite_url(match)
        for case in rendered[1]["cases"]
        for reference in case.get("references") or ()
        for match in views._CITABLE.finditer(reference)
    }
    # ... and the specification clauses of the findings
    allowed |= {
        views._cite_url(match)
        for f in findings(rendered[1])
        for clause in f.spec
        for match in views._CITABLE.finditer(clause)
    }
    links = external_links(page)
    assert links and set(links) <= allowed


def test_html_carries_a_content_security_policy(
    rendered: tuple[ReportPaths, dict[str, Any]],
) -> None:
    page = rendered[0].html.read_text(encoding="utf-8")
    head = page[: page.index("</head>")]
    meta = re.search(r'<meta content="([^"]+)" http-equiv="Content-Security-Policy"/?>', head)
    assert meta is not None, head[:500]
    policy = {d.split()[0]: d.split()[1:] for d in html.unescape(meta.group(1)).split("; ")}
    assert policy["default-src"] == ["'none'"]  # no script, no fetch, no frame, no font
    assert policy["img-src"] == ["data:"] and policy["style-src"] == ["'unsafe-inline'"]
    assert "script-src" not in policy
    # no JupyterLab theme: the page's CSS is ours, a few KB
    assert "--jp-layout-color0" not in page and len(head) < 12_000


def test_external_refs_detector_finds_urls() -> None:
    # The scan above must be able to fail.
    page = (
        '<script src="https://cdn.example/x.js"></script><a href="#ok">'
        "<style>@import url('https://f.example/a.css'); b{background:url(//x.example/i.png)}"
        '</style><img src="data:image/png;base64,AAAA">'
    )
    assert external_refs(page) == [
        "https://cdn.example/x.js",
        "https://f.example/a.css",
        "//x.example/i.png",
    ]


def test_report_adds_nothing_beyond_the_results(
    rendered: tuple[ReportPaths, dict[str, Any]],
) -> None:
    paths, _ = rendered
    for output in (paths.html, paths.notebook):
        text = output.read_text(encoding="utf-8")
        assert SENTINEL not in text  # from the environment
        assert str(paths.html.parent.parent) not in text  # no absolute paths of this machine
        # No compact JWS with its signature: the results hold none, the report adds none.
        assert not re.search(r"eyJ[\w-]+\.[\w-]*\.[\w-]{16,}", text)


def test_hostile_results_render_escaped_and_bounded(hostile: ReportPaths) -> None:
    page = hostile.html.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"<[a-z][^>]*\sonerror\s*=", page, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    assert "\x1b" not in page and "\\x1b[31mred" in page  # ANSI made visible, not live
    assert "\\u202eevil" in page  # bidi override made visible
    assert "\ufffd" in page  # replacement characters kept as text
    assert "[truncated " in page
    assert len(page) < HUGE_BODY_CHARS / 5
    assert "&lt;/pre&gt;&lt;/details&gt;&lt;style&gt;" in page
    assert external_refs(page) == []


def test_many_cases_render(tmp_path: Path) -> None:
    data = make_results(n_cases=1000, failures=25, critical=5, warns=10, skips=10, errors=3)
    results = write_results(tmp_path / "results.json", data)
    paths = render_report(results, timeout_s=120)
    page = paths.html.read_text(encoding="utf-8")
    assert "Not conformant: 25 failures, of which 5 critical; 3 errors" in page
    cells = set(re.findall(r'<td>(?:<a href="#case-[^"]+">)?([^<]+)(?:</a>)?</td>', page))
    assert {c["id"] for c in data["cases"]} <= cells  # every case has its row
    # The size budget (a size, not a time): a 1,000-case report under 600 KB.
    size = paths.html.stat().st_size
    print(f"1,000-case report: {size / 1000:.0f} KB")
    assert size < 600_000


def test_missing_results_raise_config_error_before_any_kernel(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such results file"):
        render_report(tmp_path / "nope.json")
    good = write_results(tmp_path / "results.json", make_results(n_cases=5, failures=0, critical=0))
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        render_report(good, baseline=tmp_path / "bad.json")
    assert not (tmp_path / "report.ipynb").exists()


def test_failing_cell_saves_partial_notebook_and_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("results_path = None", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_code_cell("raise RuntimeError('boom in the report')"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path = tmp_path / "template.ipynb"
    nbformat.write(template, path)
    monkeypatch.setattr(render_module, "TEMPLATE_NOTEBOOK", path)
    results = write_results(
        tmp_path / "results.json", make_results(n_cases=3, failures=0, critical=0)
    )
    with pytest.raises(ReportRenderError, match="RuntimeError: boom in the report") as info:
        render_report(results, timeout_s=30)
    assert info.value.notebook == tmp_path / "report.ipynb"
    saved = nbformat.read(info.value.notebook, as_version=4)
    # parameters, injected parameters, "x = 1" ran; the failing cell holds the traceback.
    assert [c.execution_count for c in saved.cells[:3]] == [1, 2, 3]
    assert any(o.output_type == "error" for o in saved.cells[3].outputs)
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("bad", [{"results_path": object()}, {"not an id": 1}])
def test_inject_parameters_rejects_non_literals(bad: dict[str, Any]) -> None:
    nb = nbformat.read(render_module.TEMPLATE_NOTEBOOK, as_version=4)
    with pytest.raises(ValueError):
        inject_parameters(nb, bad)


def test_inject_parameters_needs_a_parameters_cell_and_replaces_earlier_injection() -> None:
    nb = nbformat.read(render_module.TEMPLATE_NOTEBOOK, as_version=4)
    inject_parameters(nb, {"results_path": "a.json"})
    inject_parameters(nb, {"results_path": "b.json"})
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert [c.source.splitlines()[-1] for c in injected] == ["results_path = 'b.json'"]
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        inject_parameters(nbformat.v4.new_notebook(), {"a": 1})


def test_template_notebooks_have_no_outputs_and_are_identical() -> None:
    packaged = render_module.TEMPLATE_NOTEBOOK
    in_repo = REPO / "notebooks" / "report.ipynb"
    assert packaged.read_bytes() == in_repo.read_bytes()
    for path in (packaged, REPO / "notebooks" / "explore.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path
    raw = json.loads(packaged.read_text(encoding="utf-8"))
    assert any("parameters" in c["metadata"].get("tags", []) for c in raw["cells"])


def test_a_warm_kernel_renders_in_the_report_directory_and_is_shut_down(tmp_path: Path) -> None:
    results = write_results(
        tmp_path / "in" / "results.json", make_results(n_cases=5, failures=1, critical=1)
    )
    kernel = render_module.WarmKernel().start()
    paths = render_report(results, out_dir=tmp_path / "out", kernel=kernel)
    assert kernel.error is None
    assert kernel.km is None  # shut down after the render
    saved = nbformat.read(paths.notebook, as_version=4)
    injected = next(c for c in saved.cells if "injected-parameters" in c.metadata["tags"])
    # the notebook read ../in/results.json relative to the report directory: its cwd
    assert "../in/results.json" in injected.source
    assert "Not conformant" in paths.html.read_text(encoding="utf-8")
    assert [c.execution_count for c in saved.cells if c.cell_type == "code"][:2] == [1, 2]


def test_a_warm_kernel_is_shut_down_when_the_render_fails_before_executing(
    tmp_path: Path,
) -> None:
    kernel = render_module.WarmKernel().start()
    with pytest.raises(ConfigError):
        render_report(tmp_path / "nope.json", kernel=kernel)
    assert kernel.km is None


def test_a_kernel_that_could_not_start_leaves_the_render_to_start_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_module, "KERNEL_NAME", "no-such-kernel")
    kernel = render_module.WarmKernel().start()
    kernel.take(tmp_path)  # waits for the failed start
    assert kernel.error is not None and kernel.km is None
    monkeypatch.setattr(render_module, "KERNEL_NAME", "python3")
    results = write_results(
        tmp_path / "results.json", make_results(n_cases=3, failures=0, critical=0)
    )
    assert render_report(results, kernel=kernel).html.exists()
