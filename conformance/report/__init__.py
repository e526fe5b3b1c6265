"""The report: an executed notebook and an offline HTML page made from results.json.

Importing this package is cheap (no nbclient, nbconvert or matplotlib until a function
that needs them runs): the pytest plugin imports it at the end of a run.
"""

from __future__ import annotations

from .._reprs import install as install_html_tables
from . import figures, views
from ._load import load_results
from .diff import CaseChange, ResultsDiff, diff_files, diff_results
from .render import ReportPaths, ReportRenderError, render_report, template_notebook

__all__ = [
    "CaseChange",
    "ReportPaths",
    "ReportRenderError",
    "ResultsDiff",
    "diff_files",
    "diff_results",
    "figures",
    "install_html_tables",
    "load_results",
    "render_report",
    "template_notebook",
    "views",
]
