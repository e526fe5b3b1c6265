"""Where a case's expectation depends on the profile: data, applied once to the catalog.

RFC 7523 differs from Dynamic's contract in a few places: the ``scope`` claim means
nothing there (scope is a form parameter), ``jti`` replay protection and a maximum
lifetime are MAYs (RFC 7523 §3 items 4, 6, 7), and issued access tokens may be opaque.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping

from .authoring import Case, Expect

__all__ = ["DYNAMIC_ONLY", "EXPECT_BY_PROFILE", "apply"]

#: Cases about Dynamic's contract only (globs over case ids).
DYNAMIC_ONLY: tuple[str, ...] = (
    "scope.*",
    "claims.name_case.scope",
    "claims.duplicate.scope",
    "claims.injection.scope_*",
    "replay.not_burned.unknown_scope",
    "issued.token.*",
)

#: Per-profile expectations that differ from the case's own (globs over case ids).
EXPECT_BY_PROFILE: Mapping[str, Mapping[str, Expect]] = {
    "rfc7523": {
        "time.exp.future_2hours": Expect.EITHER,
        "time.exp.future_1day": Expect.EITHER,
        "time.exp.future_1year": Expect.EITHER,
        "time.lifetime.over_max": Expect.EITHER,
        "time.iat.past_1week": Expect.EITHER,
        "time.iat.past_over_max": Expect.EITHER,
        "time.exp.milliseconds": Expect.EITHER,
        "time.exp.value_int63": Expect.EITHER,
        "time.exp.value_int64": Expect.EITHER,
        "time.exp.value_huge_float": Expect.EITHER,
        "replay.jti.empty": Expect.EITHER,
        "replay.jti.number": Expect.EITHER,
        "replay.jti.null": Expect.EITHER,
        "claims.kind.id_token": Expect.EITHER,
    },
}


def apply(case: Case) -> Case:
    """``case`` with the profile data of this module applied."""
    changes: dict[str, object] = {}
    if any(fnmatch.fnmatchcase(case.id, glob) for glob in DYNAMIC_ONLY):
        changes["profiles"] = case.profiles & {"dynamic"}
    extra = {
        profile: expect
        for profile, table in EXPECT_BY_PROFILE.items()
        for glob, expect in table.items()
        if fnmatch.fnmatchcase(case.id, glob)
    }
    if extra:
        changes["expect_by_profile"] = {**case.expect_by_profile, **extra}
    return dataclasses.replace(case, **changes) if changes else case  # type: ignore[arg-type]
