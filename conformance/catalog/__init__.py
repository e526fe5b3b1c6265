"""The catalog: every case, in report order. One catalog feeds the plugin, the report,
the waivers and the documentation table.

``CASES``/``BY_ID`` are the built-in cases (data, cheap to import); ``load_cases`` adds an
organisation's own case modules (entry points and ``--cases MODULE``). Case modules are
written with ``conformance.catalog.authoring``.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import (
    algorithms,
    claims,
    encoding,
    envelope,
    errors,
    header,
    issued,
    keys,
    profiles,
    properties,
    replay,
    rfc7523,
    scope,
    signature,
    subject,
    times,
)
from ._extensions import ENTRY_POINT_GROUP, load_cases
from .authoring import CATEGORIES, Case, CaseContext, Expect, Level, Severity, case

_MODULES = (
    envelope,
    claims,
    times,
    algorithms,
    signature,
    keys,
    header,
    replay,
    subject,
    scope,
    encoding,
    issued,
    errors,
    rfc7523,
    properties,
)


def _collect() -> tuple[Case, ...]:
    cases = [profiles.apply(c) for module in _MODULES for c in module.CASES]
    seen: set[str] = set()
    for c in cases:
        if c.id in seen:
            raise ValueError(f"duplicate case id {c.id!r}")
        seen.add(c.id)
    return tuple(sorted(cases, key=lambda c: CATEGORIES.index(c.category)))


CASES: tuple[Case, ...] = _collect()
BY_ID: Mapping[str, Case] = {c.id: c for c in CASES}
NOT_APPLICABLE: Mapping[str, str] = {
    row: reason for module in _MODULES for row, reason in module.NOT_APPLICABLE.items()
}

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
