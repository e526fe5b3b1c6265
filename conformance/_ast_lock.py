"""One ``ast.parse`` at a time in this process.

CPython keeps the AST constructor's recursion depth in interpreter-wide state: two threads
inside ``ast.parse`` at once can fail one of them with ``SystemError: AST constructor
recursion depth mismatch`` (python/cpython#106905, pytest-dev/pytest#10763; seen here on
3.11.7). The scheduler runs cases on threads, and both Hypothesis (the property cases
pretty-print their examples with ``ast.parse``) and pytest (formatting a traceback) parse
source while they run: measured, one run in about ten of a flaw's cases lost a verdict to
it (an INTERNALERROR ended the session). :func:`install` makes ``ast.parse`` take a lock;
it changes nothing else, and installing it twice is installing it once.
"""

from __future__ import annotations

import ast
import functools
import threading
from typing import Any

_LOCK = threading.RLock()


def install() -> None:
    """Serialise ``ast.parse`` in this process (idempotent)."""
    with _LOCK:
        if getattr(ast.parse, "_conformance_serialised", False):
            return
        original = ast.parse

        @functools.wraps(original)
        def parse(*args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                return original(*args, **kwargs)

        parse._conformance_serialised = True  # type: ignore[attr-defined]
        ast.parse = parse
