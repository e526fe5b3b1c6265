"""The JWKS cases' polls (``catalog.authoring.after_refetch``): a token is sent when the
target may refetch its JWKS (its last fetch, in the JWKS host's log, plus the documented
interval), and a target that fetched nothing at two such moments is not asked again."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from conformance.catalog import authoring

INTERVAL_S = 0.05
PATH = "/jwks.json"


class Host:
    """The JWKS host's log: fetches of ``PATH`` at the times given."""

    jwks_url = f"http://127.0.0.1:9{PATH}"

    def __init__(self) -> None:
        self.fetched: list[float] = [time.time()]  # the previous case's refetch: just now

    def requests(self, prefix: str | None = None) -> list[Any]:
        return [SimpleNamespace(path=PATH, time=t) for t in self.fetched]

    def fetch_count(self, path: str = PATH) -> int:
        return len(self.fetched)


class Context:
    """A target that refetches when it may (``fetches``) and then accepts (``accepts``)."""

    def __init__(self, *, fetches: bool, accepts: bool) -> None:
        self.settings = SimpleNamespace(jwks_refetch_s=INTERVAL_S)
        self.jwks_host = Host()
        self.fetches, self.accepts = fetches, accepts
        self.sent: list[float] = []

    def send(self, token: str, **_: Any) -> Any:
        now = time.time()
        self.sent.append(now)
        allowed = now >= max(self.jwks_host.fetched) + INTERVAL_S
        if self.fetches and allowed:
            self.jwks_host.fetched.append(now)
        accepted = self.accepts and self.fetches and allowed
        return SimpleNamespace(accepted=accepted, rejected=not accepted, misbehaved=False)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def check(self, condition: bool, message: str) -> None:
        assert condition, message


def test_a_target_that_never_looks_the_kid_up_is_asked_twice_when_it_may_refetch() -> None:
    ctx = Context(fetches=False, accepts=False)
    answer = authoring.after_refetch(ctx, lambda: "token")  # type: ignore[arg-type]
    assert answer.rejected
    assert len(ctx.sent) == authoring.ALLOWED_MISSES
    # never a send the target had to answer from its cache
    assert all(t >= ctx.jwks_host.fetched[0] + INTERVAL_S for t in ctx.sent)


def test_a_target_that_refetches_is_asked_once_it_may() -> None:
    ctx = Context(fetches=True, accepts=True)
    answer = authoring.after_refetch(ctx, lambda: "token")  # type: ignore[arg-type]
    assert answer.accepted
    assert len(ctx.sent) == 1
