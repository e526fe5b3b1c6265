from __future__ import annotations

import pytest

import conformance


def test_all_pins_the_public_api_and_every_name_resolves() -> None:
    # The order of __all__ is ruff's (RUF022); the content is pinned here.
    assert sorted(conformance.__all__) == [
        "Assertion",
        "BY_ID",
        "CASES",
        "CATALOG_VERSION",
        "Case",
        "CaseFailure",
        "CaseResult",
        "ConfigError",
        "ConformanceError",
        "Exchange",
        "Expect",
        "JwksHost",
        "Keyring",
        "Level",
        "OMIT",
        "Runtime",
        "Session",
        "Severity",
        "SigningKey",
        "Target",
        "TargetSettings",
        "TargetUnreachable",
        "__version__",
        "load_signing_key",
        "open_runtime",
        "run_case",
    ]
    for name in conformance.__all__:
        assert getattr(conformance, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        conformance.no_such_thing  # noqa: B018
