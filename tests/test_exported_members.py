from __future__ import annotations

import conformance


def test_all_is_sorted_and_every_name_resolves() -> None:
    exported = conformance.__all__
    assert exported == sorted(exported)
    for name in exported:
        assert getattr(conformance, name) is not None, name


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        conformance.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
