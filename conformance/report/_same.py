"""What one case's evidence shares with the first case of its finding.

A finding's cases are mostly one weakness probed in several spellings: the same request
to the same endpoint, the same refusal, assertions that differ in a member or two. The
report shows the first case's evidence whole and, for each other case, what differs from
it, exchange by exchange (the same number, the same label): the members of a decoded
header or claims set, the headers of a request or response whose first line and body are
the same. Where a difference would not be much shorter than the part itself, the part is
shown whole. results.json keeps every exchange whole either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SHOWN_RATIO", "Changes", "changes", "shorter"]

#: A difference is shown instead of the whole part only when it is at most this fraction
#: of the part's length: a reader should not have to put together what is nearly whole.
SHOWN_RATIO = 0.8


@dataclass(frozen=True, slots=True)
class Changes:
    """How a mapping differs from the reference's: the members whose value differs or
    that the reference lacks (with this one's value), and the members it lacks."""

    changed: dict[str, Any]
    absent: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.changed or self.absent)


def changes(value: Any, like: Any) -> Changes | None:
    """How mapping ``value`` differs from mapping ``like`` (members in ``value``'s
    order), or ``None`` when either is not a mapping: nothing to compare, show it whole."""
    if not isinstance(value, Mapping) or not isinstance(like, Mapping):
        return None
    missing = object()
    changed = {str(k): v for k, v in value.items() if like.get(k, missing) != v}
    absent = tuple(str(k) for k in like if k not in value)
    return Changes(changed, absent)


def shorter(part: str, whole: str) -> bool:
    """Whether showing ``part`` (a difference) instead of ``whole`` is worth it."""
    return len(part) <= len(whole) * SHOWN_RATIO
