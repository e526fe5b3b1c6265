"""Cases of the `header` category (see conformance/catalog/_model.py)."""

from __future__ import annotations

from collections.abc import Mapping

from ._model import Case

CASES: tuple[Case, ...] = ()

#: threat-catalog rows of this category that do not apply to a profile, with the reason.
NOT_APPLICABLE: Mapping[str, str] = {}
