"""An organisation's own case modules, loaded next to the built-in catalog.

Two sources, both optional: the ``conformance.cases`` entry points of every installed
distribution, and modules named on the command line (``conformance run --cases MODULE``,
``pytest --conformance-cases MODULE``). A module holds a ``CASES`` sequence built with
``conformance.catalog.authoring``; an entry point may also name a callable returning the
cases. Every mistake is a one-line :class:`ConfigError` naming the module and the fix.

Nothing here runs at import: the built-in ``CASES`` stay cheap data, and extensions are
imported only when a run asks for them.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError
from . import profiles
from ._builtin import CASES
from ._model import CATEGORIES, Case

#: The entry point group a distribution declares its case modules under.
ENTRY_POINT_GROUP = "conformance.cases"

#: Case ids appear in JUnit, waivers and tickets: dotted snake_case, category first.
_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def load_cases(modules: Sequence[str] = (), *, entry_points: bool = True) -> tuple[Case, ...]:
    """The built-in cases plus those of every ``conformance.cases`` entry point (unless
    ``entry_points`` is false) and of ``modules``, in report order.

    Each of ``modules`` is a dotted module name (``acme.conformance_cases``, importable
    from ``sys.path``) or the path of a ``.py`` file (``cases/acme.py``). Extension cases
    get the same per-profile data as built-in ones (``catalog/profiles.py``).

    Raises :class:`~conformance.ConfigError` when a module cannot be imported, has no
    ``CASES``, holds something that is not a :class:`Case`, or reuses an id.
    """
    owner: dict[str, str] = dict.fromkeys((c.id for c in CASES), "the built-in catalog")
    loaded: list[Case] = []
    seen: set[int] = set()  # one module reached twice (entry point and --cases) counts once
    sources: list[tuple[str, Any]] = []
    if entry_points:
        sources += _from_entry_points()
    sources += [(f"case module {name!r}", _import(name)) for name in modules]
    for label, source in sources:
        if id(source) in seen:
            continue
        seen.add(id(source))
        for item in _cases_of(label, source):
            if item.id in owner:
                raise ConfigError(
                    f"{label}: case id {item.id!r} is already defined by {owner[item.id]}; "
                    "give your case another id (e.g. insert your organisation's name: "
                    f"{_suggest(item.id)!r})"
                )
            owner[item.id] = label
            loaded.append(profiles.apply(item))
    # A stable sort keeps the built-in order and puts each extension case after the
    # built-in cases of its category, so reports keep their category order.
    return tuple(sorted((*CASES, *loaded), key=lambda c: CATEGORIES.index(c.category)))


def _suggest(case_id: str) -> str:
    category, _, rest = case_id.partition(".")
    return f"{category}.acme.{rest}"


def _from_entry_points() -> list[tuple[str, Any]]:
    from importlib.metadata import entry_points

    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = f" of {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        label = f"entry point {ep.name!r} ({ep.value}){dist}"
        try:
            target = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"{label} failed to load: {_one_line(exc)}; fix the module or uninstall "
                "the distribution (or run with extension entry points off)"
            ) from exc
        if callable(target) and not hasattr(target, "CASES"):
            try:
                target = _Called(target())
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(
                    f"{label}: calling {ep.value} failed: {_one_line(exc)}; it must "
                    "return a sequence of Case"
                ) from exc
        found.append((label, target))
    return found


class _Called:
    """What an entry point's callable returned, shaped like a module with ``CASES``."""

    def __init__(self, cases: Any) -> None:
        self.CASES = cases


def _import(name: str) -> Any:
    """Import ``name``: a dotted module name, or a path when it ends in ``.py``."""
    if name.endswith(".py"):
        return _import_path(Path(name))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise ConfigError(
                f"case module {name!r} not found: install the distribution that holds it, "
                "put its directory on PYTHONPATH, or pass the path of its .py file"
            ) from exc
        raise ConfigError(
            f"case module {name!r} imports {exc.name!r}, which is not installed: install it"
        ) from exc
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"case module {name!r} failed to import: {_one_line(exc)}; fix the module"
        ) from exc


def _import_path(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(
            f"case module file '{path}' does not exist: pass the path of a .py file "
            "or a dotted module name"
        )
    resolved = path.resolve()
    # A name of our own: a file named like a real module (cases.py, test.py) must not
    # shadow it in sys.modules. Registered so that dataclasses and pickling find it.
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    module_name = f"conformance_cases_{digest}_{resolved.stem}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"case module file '{path}' cannot be imported: is it Python source?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ConfigError(
            f"case module file '{path}' failed to import: {_one_line(exc)}; fix the module"
        ) from exc
    return module


def _cases_of(label: str, source: Any) -> Iterable[Case]:
    if not hasattr(source, "CASES"):
        raise ConfigError(
            f"{label} has no CASES: define CASES = (case(...), ...) with "
            "conformance.catalog.authoring"
        )
    cases = source.CASES
    if isinstance(cases, (str, bytes)) or not isinstance(cases, Iterable):
        raise ConfigError(
            f"{label}: CASES is a {type(cases).__name__}, not a sequence of Case: make it a tuple"
        )
    items = list(cases)
    for index, item in enumerate(items):
        if not isinstance(item, Case):
            raise ConfigError(
                f"{label}: CASES[{index}] is a {type(item).__name__}, not a Case: build it "
                "with case(), claims_case() or token_case() from conformance.catalog.authoring"
            )
        if not _ID.match(item.id) or item.id.split(".")[0] != item.category:
            raise ConfigError(
                f"{label}: case id {item.id!r} is not <category>.<condition> in dotted "
                f"lower-case snake_case: name it like '{item.category}.acme.condition'"
            )
    return items


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
