"""The built-in cases, collected from the category modules in report order."""

from __future__ import annotations

from collections.abc import Mapping

from . import (
    algorithms,
    claim_types,
    claims,
    encoding,
    envelope,
    errors,
    exhaustion,
    header,
    hygiene,
    issued,
    key_spellings,
    keys,
    keys_lifecycle,
    lifetime,
    profiles,
    properties,
    purpose,
    replay,
    replay_equivalence,
    rfc7523,
    scope,
    serialisation,
    signature,
    state_machine,
    subject,
    subject_answer,
    times,
    wycheproof,
)
from ._model import CATEGORIES, Case

_MODULES = (
    envelope,
    claims,
    claim_types,
    times,
    algorithms,
    key_spellings,
    signature,
    wycheproof,
    keys,
    keys_lifecycle,
    header,
    replay,
    subject,
    subject_answer,
    scope,
    encoding,
    serialisation,
    issued,
    errors,
    rfc7523,
    properties,
    # issue 14 (classes 4-9): new detection families, each in its own module
    replay_equivalence,
    lifetime,
    state_machine,
    exhaustion,
    purpose,
    hygiene,  # last: it judges every refusal recorded before it
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
