from __future__ import annotations

import fnmatch

from conformance.catalog import BY_ID, CASES, Expect, Level
from conformance.catalog.profiles import (
    DYNAMIC_ONLY,
    EITHER_BECAUSE,
    EXPECT_BY_PROFILE,
    LEVEL_BY_PROFILE,
    POLICY,
    SKIP_BY_PROFILE,
)


def test_every_profile_glob_names_a_case() -> None:
    ids = list(BY_ID)
    tables = [*EXPECT_BY_PROFILE.values(), *LEVEL_BY_PROFILE.values(), *SKIP_BY_PROFILE.values()]
    globs = [*DYNAMIC_ONLY, *EITHER_BECAUSE, *(g for t in tables for g in t)]
    globs += [g for promoted in POLICY.values() for g in promoted]
    assert [g for g in globs if not fnmatch.filter(ids, g)] == []


def test_profile_data_is_applied_to_the_catalog() -> None:
    assert BY_ID["scope.value.unknown"].profiles == frozenset({"dynamic"})
    case = BY_ID["claims.kind.id_token"]
    assert case.expectation("rfc7523") is Expect.EITHER
    assert case.expectation("rfc7523/jwt_bearer") is Expect.EITHER  # the mode inherits
    assert case.expectation("dynamic") is case.expect
    replay = BY_ID["replay.same_token.twice"]
    assert replay.level_for("rfc7523") is Level.SHOULD and replay.level_for("dynamic") is Level.MUST
    assert BY_ID["claims.sub.other_user"].skip_reason("rfc7523/jwt_bearer")
    assert BY_ID["claims.sub.other_user"].skip_reason("rfc7523/client_assertion") is None


def test_every_case_runs_in_some_profile() -> None:
    assert [c.id for c in CASES if not c.profiles] == []
