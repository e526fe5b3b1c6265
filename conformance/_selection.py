"""Which catalog cases a run selects: by profile, category, level and id globs."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from ._exceptions import ConfigError
from .catalog._model import CATEGORIES, Case


def resolve_category(value: str) -> str:
    """The category ``value`` names, as users type it: any case, singular or plural
    (``times``, ``algorithm``), or a unique prefix (``alg``).

    Raises :class:`ConfigError` naming the valid categories when none (or several) match.
    """
    name = value.strip().lower()
    if name in CATEGORIES:
        return name
    alternatives = {name + "s", name.removesuffix("s"), name.removesuffix("es")}
    found = [c for c in CATEGORIES if c in alternatives]
    if not found and name:
        found = [c for c in CATEGORIES if c.startswith(name)]
    if len(found) == 1:
        return found[0]
    raise ConfigError(f"unknown category {value!r}; choose from {', '.join(CATEGORIES)}")


def select_cases(
    cases: Iterable[Case],
    *,
    profile: str | None,
    categories: Sequence[str] = (),
    ids: Sequence[str] = (),
    level: str | None = None,
) -> list[Case]:
    """The cases of ``profile`` (any when ``None``) in ``categories`` (all when empty),
    of ``level`` (both when ``None``), whose id matches one of the ``ids`` globs (all when
    empty)."""
    return [
        case
        for case in cases
        if (profile is None or profile in case.profiles)
        and (not categories or case.category in categories)
        and (level is None or case.level.value == level)
        and (not ids or any(fnmatch.fnmatchcase(case.id, glob) for glob in ids))
    ]
