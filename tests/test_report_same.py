"""What one case's evidence shares with another's (conformance/report/_same.py)."""

from __future__ import annotations

from conformance.report._same import Changes, changes, shorter


def test_changes_name_what_differs_and_what_is_missing_in_the_cases_order() -> None:
    diff = changes({"jti": "b", "alg": "HS256", "new": 1}, {"alg": "HS256", "jti": "a", "x": 2})
    assert diff == Changes({"jti": "b", "new": 1}, ("x",))
    assert diff
    assert not changes({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]})


def test_a_value_that_is_not_a_mapping_has_nothing_to_compare() -> None:
    assert changes(["alg"], {"alg": "none"}) is None
    assert changes({"alg": "none"}, "eyJ") is None
    assert changes(None, None) is None


def test_a_difference_is_shown_only_when_it_is_much_shorter() -> None:
    assert shorter("x" * 80, "y" * 100)
    assert not shorter("x" * 81, "y" * 100)
