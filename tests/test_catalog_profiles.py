from __future__ import annotations

import fnmatch

from conformance.catalog import BY_ID, CASES, Expect
from conformance.catalog.profiles import DYNAMIC_ONLY, EXPECT_BY_PROFILE


def test_every_profile_glob_names_a_case() -> None:
    ids = list(BY_ID)
    globs = [*DYNAMIC_ONLY, *(g for table in EXPECT_BY_PROFILE.values() for g in table)]
    assert [g for g in globs if not fnmatch.filter(ids, g)] == []


def test_profile_data_is_applied_to_the_catalog() -> None:
    assert BY_ID["scope.value.unknown"].profiles == frozenset({"dynamic"})
    case = BY_ID["time.exp.future_1day"]
    assert case.expectation("rfc7523") is Expect.EITHER
    assert case.expectation("dynamic") is case.expect


def test_every_case_runs_in_some_profile() -> None:
    assert [c.id for c in CASES if not c.profiles] == []
