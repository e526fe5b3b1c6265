"""A real extension case module, as an organisation would write one: public names only.

Loaded by ``tests/test_catalog_extensions.py`` through ``load_cases`` (by dotted name,
by path and through an entry point) and run against the embedded emulator.
"""

from __future__ import annotations

from conformance.catalog.authoring import (
    Severity,
    claims_case,
    claims_with,
    signed_payload,
    token_case,
)

CASES = (
    claims_case(
        "time.acme.exp_past_1h",
        "exp one hour in the past",
        category="time",
        mutate=lambda a, ctx: a.with_claims(exp=ctx.now() - 3600),
        rationale="Our tokens live 5 minutes: an hour-old assertion is a leaked one.",
        anchors=("C02",),
    ),
    token_case(
        "claims.acme.sub_null",
        "sub is null",
        category="claims",
        build=lambda ctx: signed_payload(ctx, claims_with(ctx, sub=None)),
        rationale="A null subject must never match a session's user.",
        severity=Severity.CRITICAL,
        anchors=("B01",),
    ),
)
