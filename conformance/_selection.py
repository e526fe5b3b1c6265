"""Which catalog cases a run selects: by profile, category, level and id globs."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from .catalog._model import Case


def select_cases(
    cases: Iterable[Case],
    *,
    profile: str,
    categories: Sequence[str] = (),
    ids: Sequence[str] = (),
    level: str | None = None,
) -> list[Case]:
    """The cases of ``profile`` in ``categories`` (all when empty), of ``level`` (both
    when ``None``), whose id matches one of the ``ids`` globs (all when empty)."""
    return [
        case
        for case in cases
        if profile in case.profiles
        and (not categories or case.category in categories)
        and (level is None or case.level.value == level)
        and (not ids or any(fnmatch.fnmatchcase(case.id, glob) for glob in ids))
    ]
