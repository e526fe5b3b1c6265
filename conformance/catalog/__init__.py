"""The catalog: every case, in report order. One catalog feeds the plugin, the report,
the waivers and the documentation table.

``CASES``/``BY_ID`` are the built-in cases (data, cheap to import); ``load_cases`` adds an
organisation's own case modules (entry points and ``--cases MODULE``). Case modules are
written with ``conformance.catalog.authoring``.
"""

from __future__ import annotations

from ._builtin import BY_ID, CASES, NOT_APPLICABLE
from ._extensions import ENTRY_POINT_GROUP, load_cases
from .authoring import CATEGORIES, Case, CaseContext, Expect, Level, Severity, case

__all__ = [
    "BY_ID",
    "CASES",
    "CATEGORIES",
    "ENTRY_POINT_GROUP",
    "NOT_APPLICABLE",
    "Case",
    "CaseContext",
    "Expect",
    "Level",
    "Severity",
    "case",
    "load_cases",
]
