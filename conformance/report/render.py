"""Rendering a results file: parameters injection, nbclient execution, nbconvert export.

    results.json ──► template notebook + injected parameters ──► nbclient (kernel python3,
    cwd = report dir, per-cell timeout) ──► report.ipynb ──► nbconvert (our offline
    template, sanitised, inputs excluded) ──► report.html

Rendering never contacts the target: the notebook reads results.json (and the baseline)
only. nbformat, nbclient and nbconvert are imported inside the functions that use them.

Starting a kernel and importing the report's libraries in it takes seconds that need not
wait for the results: :class:`WarmKernel` starts one (and warms those imports) on a
background thread while the cases run; :func:`render_report` then executes in it.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import ConformanceError, MissingExtra
from ._load import load_results

__all__ = [
    "ALLOWED_TAGS",
    "CSP",
    "ReportPaths",
    "ReportRenderError",
    "WarmKernel",
    "clean_html",
    "explore_notebook",
    "export_html",
    "inject_parameters",
    "render_report",
    "template_notebook",
]

_HERE = Path(__file__).resolve().parent
#: The template notebook shipped inside the package; ``notebooks/report.ipynb`` in the
#: repository is a byte-identical copy for people browsing the sources (a test pins it).
TEMPLATE_NOTEBOOK = _HERE / "report.ipynb"
#: The reviewers' notebook, shipped the same way (``notebooks/explore.ipynb`` is its copy).
EXPLORE_NOTEBOOK = _HERE / "explore.ipynb"
TEMPLATES_DIR = _HERE / "templates"
TEMPLATE_NAME = "conformance_report"
KERNEL_NAME = "python3"

#: Tags our sections use, on top of what nbconvert's own sanitiser allows. No ``img``
#: (pictures are image/png outputs the template inlines), no ``style``, no ``script``.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "details", "div", "dl", "dt",
        "em", "h1", "h2", "h3", "h4", "hr", "i", "li", "ol", "p", "pre", "small", "span",
        "strong", "summary", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
#: The page's Content-Security-Policy (a ``<meta>`` in its head): no script runs and
#: nothing is fetched from anywhere; pictures are ``data:`` URIs, styles inline.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)
_ALLOWED_ATTRIBUTES = {"*": {"class", "id", "title"}, "a": {"href"}, "details": {"open"}}


@dataclass(frozen=True, slots=True)
class ReportPaths:
    """Where :func:`render_report` wrote the executed notebook and the HTML page."""

    notebook: Path
    html: Path


class ReportRenderError(ConformanceError):
    """A cell of the report notebook failed or timed out, or the kernel died.

    The partially executed notebook is saved first; ``notebook`` is its path and the
    message names the failing exception, so the traceback can be read there.
    """

    def __init__(self, message: str, *, notebook: Path) -> None:
        super().__init__(message)
        self.notebook = notebook


def _lib(name: str) -> Any:
    # nbformat, nbclient and nbconvert ship no type information: they are used
    # through Any, imported only when a render needs them.
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise MissingExtra(exc.name or name, needed_by="the report") from None


def template_notebook() -> Path:
    """The packaged template notebook (present in editable and wheel installs alike)."""
    return TEMPLATE_NOTEBOOK


def explore_notebook() -> Path:
    """The packaged reviewers' notebook (``notebooks/explore.ipynb``), present in editable
    and wheel installs alike: copy it somewhere writable and open it."""
    return EXPLORE_NOTEBOOK


def inject_parameters(nb: Any, parameters: Mapping[str, object]) -> Any:
    """Add a code cell tagged ``injected-parameters`` right after the cell tagged
    ``parameters`` (as papermill does) and return ``nb``; an earlier injected cell is
    replaced. Values must be ``repr``-able literals (str, int, float, bool, None).

    Raises ``ValueError`` when the notebook has no cell tagged ``parameters`` or a value
    is not a literal.
    """
    nbformat = _lib("nbformat")
    for name, value in parameters.items():
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not an identifier")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(f"parameter {name!r}: {type(value).__name__} is not a literal")
    cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    positions = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    if not positions:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    source = "# Injected by conformance.report.render\n" + "\n".join(
        f"{name} = {value!r}" for name, value in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    cells.insert(positions[0] + 1, cell)
    nb.cells = cells
    return nb


def clean_html(element: Any) -> str:
    """The HTML sanitiser the export uses in place of nbconvert's ``clean_html``.

    An allow-list sanitiser like nbconvert's own (markup outside the list never reaches
    the page; only http, https and mailto links), with the few structural tags the report
    needs (headings, ``details``, table heads) added to nbconvert's short list. It uses
    nh3 (Ammonia) rather than bleach: the same policy, 20x faster on a 1,000-case report.
    Every value the target sent was already escaped by :mod:`.views`, so the sanitiser
    only ever meets our own markup — it is the second line of defence.
    """
    text = element.decode() if isinstance(element, bytes) else str(element)
    cleaned: str = _lib("nh3").clean(
        text,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in _ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        # No rel on each link (26 bytes x hundreds of links): no link can open a window
        # (``target`` is not allowed), so noopener has nothing to do, and the page's
        # referrer policy (no-referrer, in its head) already keeps every link from
        # sending a referrer.
        link_rel=None,
    )
    return cleaned


def export_html(nb: Any, html_path: Path, *, title: str = "Exchange conformance report") -> Path:
    """Export an executed notebook to a self-contained HTML page at ``html_path``.

    Uses our template (lab without any CDN script), ``sanitize_html=True``, and hides
    code cells and prompts. Returns ``html_path``.
    """
    nbconvert = _lib("nbconvert")
    exporter = nbconvert.HTMLExporter(
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        sanitize_html=True,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        filters={"clean_html": clean_html},
    )
    exporter.register_preprocessor(
        nbconvert.preprocessors.TagRemovePreprocessor(remove_cell_tags={"remove-cell"}),
        enabled=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}, "csp": CSP})
    html_path.write_text(body, encoding="utf-8")
    return html_path


#: No IPython history database: parallel renders would contend for one sqlite file.
#: log_level=ERROR: the kernel's warning about plain-TCP loopback sockets is noise on a CLI
#: user's terminal; errors still show.
_KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False", "--IPKernelApp.log_level=ERROR"]
#: What the template's first cells import, run silently in a warm kernel beforehand.
_WARM_UP = """\
import io as _io
import IPython.display
import conformance.report
from matplotlib.figure import Figure as _Figure
_f = _Figure(figsize=(1, 1), dpi=40)
_f.add_subplot().bar([0], [1], label="x")
_f.savefig(_io.BytesIO(), format="png")  # fonts and the Agg canvas, loaded once
del _io, _Figure, _f
"""


class WarmKernel:
    """A report kernel started ahead of time, on a background thread (:meth:`start`), with
    the report's imports done; :func:`render_report` executes in it (``kernel=``) and then
    shuts it down. A kernel that failed to start is simply not used: the render starts its
    own, as without one. One render per warm kernel."""

    def __init__(self, *, startup_timeout_s: float = 60.0) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.km: Any = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WarmKernel:
        self._thread = threading.Thread(target=self._boot, name="report-kernel", daemon=True)
        self._thread.start()
        return self

    def _boot(self) -> None:
        km = None
        try:
            km = _lib("jupyter_client").KernelManager(kernel_name=KERNEL_NAME)
            km.start_kernel(extra_arguments=list(_KERNEL_ARGUMENTS))
            self.km = km
            self._run(_WARM_UP)
            for name in ("nbformat", "nbclient", "nbconvert"):  # this side's imports too
                _lib(name)
        except Exception as exc:  # no kernel ahead of time: the render starts its own
            self.error = f"{type(exc).__name__}: {exc}"
            if km is not None and km.has_kernel:
                km.shutdown_kernel(now=True)
            self.km = None
        finally:
            _close_thread_loop()
            self._ready.set()

    def _run(self, code: str) -> None:
        """Run ``code`` silently in the kernel; raises ``RuntimeError`` unless it succeeds."""
        kc = self.km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=self.startup_timeout_s)
            reply = kc.execute_interactive(
                code, silent=True, store_history=False, timeout=self.startup_timeout_s
            )
        finally:
            kc.stop_channels()
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"the warm-up failed: {reply['content'].get('ename')}")

    def wait(self) -> bool:
        """Wait until the start succeeded or failed (bounded); whether it is over."""
        return self._ready.wait(self.startup_timeout_s)

    def take(self, cwd: Path) -> Any:
        """The kernel manager, its kernel moved to ``cwd``; ``None`` when there is none."""
        if not self.wait() or self.km is None:
            return None
        try:
            self._run(f"import os\nos.chdir({str(cwd)!r})")
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.close()
            return None
        return self.km

    def close(self) -> None:
        """Shut the kernel down (after the render, or when no render comes)."""
        self.wait()
        km, self.km = self.km, None
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)


def _close_thread_loop() -> None:
    """Close the event loop jupyter_client's blocking calls left on this thread."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none was made
        return
    if not loop.is_running() and not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


def _execute(
    nb: Any, *, cwd: Path, timeout_s: int, notebook_path: Path, kernel: WarmKernel | None = None
) -> None:
    nbformat = _lib("nbformat")
    nbclient = _lib("nbclient")
    errors = _lib("nbclient.exceptions")
    km = kernel.take(cwd) if kernel is not None else None
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=timeout_s,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(cwd)}},
        extra_arguments=list(_KERNEL_ARGUMENTS),
        # every output is in hand when the last cell ends: the kernel is killed, as a warm
        # kernel is (WarmKernel.close), not asked to exit. A graceful exit waited for it,
        # and under load its libzmq sometimes aborted on the way out, writing "Assertion
        # failed: pfd.revents & POLLIN" to the user's stderr after a clean render.
        shutdown_kernel="immediate",
    )
    failure: str | None = None
    try:
        client.execute()
    except errors.CellExecutionError as exc:
        evalue = (str(exc.evalue).splitlines() or [""])[0][:300]
        failure = f"a report cell raised {exc.ename}: {evalue}"
    except errors.CellTimeoutError:
        failure = f"a report cell ran longer than {timeout_s} s (raise --timeout?)"
    except errors.DeadKernelError as exc:
        failure = f"the report kernel died ({exc})"
    finally:
        if km is not None and client.kc is not None:
            client.kc.stop_channels()  # nbclient leaves a kernel it does not own running
        if kernel is not None:
            kernel.close()
        # Saved whatever happened: the partial notebook holds the traceback.
        nbformat.write(nb, notebook_path)
    if failure is not None:
        raise ReportRenderError(
            f"{failure}; the partial notebook is {notebook_path}",
            notebook=notebook_path,
        )


def render_report(
    results_path: Path,
    *,
    out_dir: Path | None = None,
    baseline: Path | None = None,
    timeout_s: int = 120,
    kernel: WarmKernel | None = None,
) -> ReportPaths:
    """Render ``results_path`` into ``report.ipynb`` and ``report.html``.

    Both land in ``out_dir`` (created if needed), by default the directory of
    ``results_path``. ``baseline`` adds a "changes since baseline" section. ``timeout_s``
    bounds each cell. ``kernel``: a :class:`WarmKernel` started earlier to execute in
    (shut down afterwards, whatever happens).

    Raises :class:`~conformance.ConfigError` when a results file is missing or invalid
    (checked before any kernel starts), ``ValueError`` for a non-positive timeout, and
    :class:`ReportRenderError` when execution fails (the partial notebook is saved).
    """
    try:
        if kernel is not None:
            # its thread imports jupyter_client: two threads importing one package with
            # import cycles inside can see it half initialised
            kernel.wait()
        return _render(results_path, out_dir, baseline, timeout_s, kernel)
    finally:
        if kernel is not None:
            kernel.close()  # a failure before the execution leaves no kernel behind


def _render(
    results_path: Path,
    out_dir: Path | None,
    baseline: Path | None,
    timeout_s: int,
    kernel: WarmKernel | None,
) -> ReportPaths:
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    results_path = Path(results_path).resolve()
    results = load_results(results_path)
    baseline_path = Path(baseline).resolve() if baseline is not None else None
    if baseline_path is not None:
        load_results(baseline_path)
    target_dir = (Path(out_dir) if out_dir is not None else results_path.parent).resolve()
    target_dir.mkdir(parents=True, exist_ok=True)

    nb = _lib("nbformat").read(TEMPLATE_NOTEBOOK, as_version=4)
    # Paths relative to the report directory (the kernel's cwd) when possible, so the
    # saved notebook does not carry this machine's absolute paths.
    inject_parameters(
        nb,
        {
            "results_path": _relative(results_path, target_dir),
            "baseline_path": _relative(baseline_path, target_dir) if baseline_path else None,
        },
    )
    run = results.get("run")
    run_id = str(run.get("id", "")) if isinstance(run, dict) else ""
    nb.metadata["title"] = f"Exchange conformance report {run_id[:80]}".strip()
    notebook_path = target_dir / "report.ipynb"
    _execute(nb, cwd=target_dir, timeout_s=timeout_s, notebook_path=notebook_path, kernel=kernel)
    html_path = export_html(nb, target_dir / "report.html", title=nb.metadata["title"])
    return ReportPaths(notebook=notebook_path, html=html_path)


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive on Windows
        return str(path)
