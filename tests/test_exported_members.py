from __future__ import annotations

import pytest

import conformance


def test_all_is_sorted_and_every_name_resolves() -> None:
    exported = conformance.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert getattr(conformance, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        conformance.no_such_thing  # noqa: B018
