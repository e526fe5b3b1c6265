"""``ast.parse`` is serialised while the scheduler's threads run cases (CPython's AST
constructor keeps its recursion depth in interpreter-wide state: two parses at once can
raise SystemError, which once ended a run's session and lost verdicts)."""

from __future__ import annotations

import ast
import threading
from typing import Any

import pytest

from conformance import _ast_lock


def test_two_threads_never_parse_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    inside = 0
    most = 0
    entered = threading.Event()
    guard = threading.Lock()

    def slow_parse(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        entered.set()
        entered.wait(0)  # let the other thread try to come in meanwhile
        threading.Event().wait(0.2)
        with guard:
            inside -= 1
        return None

    monkeypatch.setattr(ast, "parse", slow_parse)
    _ast_lock.install()
    threads = [threading.Thread(target=ast.parse, args=("1",)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.undo()  # pytest parses source to report a failure
    assert most == 1


def test_installing_twice_wraps_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(ast, "parse", lambda source, *a, **k: calls.append(source))
    _ast_lock.install()
    once = ast.parse
    _ast_lock.install()
    again = ast.parse
    ast.parse("x")
    monkeypatch.undo()
    assert again is once
    assert calls == ["x"]
