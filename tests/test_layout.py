"""The package's import graph: no cycles, and the seams that keep the suite honest.

Built with grimp from the source (function-level imports included, ``TYPE_CHECKING``-only
imports excluded: they never run). Fast: no servers, nothing of the package is imported.

An import inside a function is kept only where it keeps something heavy out of a module
that must stay cheap (the plugin, the catalog, the CLI's start), and it says so: a
``# lazy: <why>`` comment on its line, or on the comment lines just above its run of
consecutive import statements, or on the first import of that run.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import grimp
import pytest

PACKAGE = "conformance"

#: The token writers: the emulator validates with PyJWT and its own helpers and must not
#: reach any of them, or a bug in the writer could hide the same bug in the validator.
TOKEN_WRITERS = (
    "conformance.forge",
    "conformance._jose",
    "conformance._keyring",
    "conformance._assertion",
    "conformance.strategies",
)

#: The modules this layout is about; no cycle may pass through any of them.
TOKEN_MODULES = (
    "conformance._jose",
    "conformance.forge",
    "conformance._keyring",
    "conformance._assertion",
    "conformance.strategies",
    "conformance._oracle",
    "conformance._jwks_host",
)


#: Third-party packages heavy enough that importing one inside a function is a decision
#: that says why (``# lazy:``), as an import of the package's own modules there is.
HEAVY = (
    "cryptography",
    "httpx",
    "hypothesis",
    "jwt",
    "matplotlib",
    "msgspec",
    "nbclient",
    "nbconvert",
    "nbformat",
    "nh3",
    "starlette",
    "uvicorn",
)

LAZY_MARK = "# lazy:"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)


def _edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def strongly_connected(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a self-import),
    each sorted, by Tarjan's algorithm (iterative: no recursion limit to meet)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    found.append(sorted(component))
    return sorted(found)


def _cycle_through(graph: grimp.ImportGraph, component: list[str]) -> str:
    """One concrete cycle of ``component``, as ``a -> b -> a`` with the import lines."""
    start = component[0]
    members = set(component)
    # The shortest way back to start from each module start imports inside the component.
    best: tuple[str, ...] | None = None
    for first in sorted(set(graph.find_modules_directly_imported_by(start)) & members):
        back = graph.find_shortest_chain(importer=first, imported=start)
        if back is not None and (best is None or len(back) + 1 < len(best)):
            best = (start, *back)
    chain = best or (start, start)
    lines = [" -> ".join(chain)]
    for importer, imported in itertools.pairwise(chain):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}: {d['line_contents']}" for d in details)
        lines.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(lines)


def _report(graph: grimp.ImportGraph, components: list[list[str]]) -> str:
    return "\n\n".join(
        f"cycle among {', '.join(c)}:\n{_cycle_through(graph, c)}" for c in components
    )


def _import_runs(tree: ast.Module) -> Iterator[list[ast.Import | ast.ImportFrom]]:
    """Each run of consecutive import statements inside a function (blank lines between
    them do not end a run: isort puts one between sections)."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if node is not function and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue  # its own turn of the outer loop
            for name in ("body", "orelse", "finalbody"):
                statements = getattr(node, name, None)
                if not isinstance(statements, list):
                    continue
                run: list[ast.Import | ast.ImportFrom] = []
                for statement in [*statements, None]:
                    if isinstance(statement, ast.Import | ast.ImportFrom):
                        run.append(statement)
                    elif run:
                        yield run
                        run = []


def _needs_reason(statement: ast.Import | ast.ImportFrom) -> bool:
    """An import of the package itself (relative, or ``conformance...``) or of a heavy one."""
    if isinstance(statement, ast.ImportFrom):
        if statement.level:
            return True
        names = [statement.module or ""]
    else:
        names = [alias.name for alias in statement.names]
    return any(
        n == PACKAGE or n.startswith(PACKAGE + ".") or n.split(".")[0] in HEAVY for n in names
    )


def unexplained_lazy_imports(source: str) -> list[tuple[int, str]]:
    """(line, statement) of each function-level import of the package or of a heavy package
    that no ``# lazy:`` comment explains (on its own lines, on the first import of its run,
    or in the comment lines just above the run)."""
    lines = source.splitlines()

    def marked(statement: ast.stmt) -> bool:
        end = statement.end_lineno or statement.lineno
        return any(LAZY_MARK in line for line in lines[statement.lineno - 1 : end])

    found: set[tuple[int, str]] = set()
    for run in _import_runs(ast.parse(source)):
        above = run[0].lineno - 2
        comments: list[str] = []
        while above >= 0 and lines[above].lstrip().startswith("#"):
            comments.append(lines[above])
            above -= 1
        run_explained = marked(run[0]) or any(LAZY_MARK in c for c in comments)
        for statement in run:
            if _needs_reason(statement) and not (run_explained or marked(statement)):
                found.add((statement.lineno, lines[statement.lineno - 1].strip()))
    return sorted(found)


def _package_root() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing it
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


# --- the helpers themselves ---------------------------------------------------------------


def test_strongly_connected_finds_cycles_and_only_cycles() -> None:
    edges = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},  # a -> b -> c -> a
        "d": {"e"},
        "e": set(),  # a chain, no cycle
        "f": {"f"},  # a module importing itself
        "g": {"h"},
        "h": {"g"},  # a two-cycle
    }
    assert strongly_connected(edges) == [["a", "b", "c"], ["f"], ["g", "h"]]
    assert strongly_connected({"x": {"y"}, "y": set()}) == []


def test_type_checking_imports_are_left_out(graph: grimp.ImportGraph) -> None:
    # conformance/__init__.py names _engine only under TYPE_CHECKING (and loads it
    # lazily through importlib): an edge here would mean the option is not in effect.
    assert "conformance._engine" not in graph.find_modules_directly_imported_by(PACKAGE)
    with_guarded = grimp.build_graph(PACKAGE, cache_dir=None)
    assert "conformance._engine" in with_guarded.find_modules_directly_imported_by(PACKAGE)


def test_function_level_imports_are_included(graph: grimp.ImportGraph) -> None:
    # The property cases import the strategies inside their recipes (hypothesis stays out
    # of the catalog); those imports run, so they count.
    assert graph.direct_import_exists(
        importer="conformance.catalog.properties", imported="conformance.strategies"
    )


def test_unexplained_lazy_imports_finds_only_the_unexplained() -> None:
    source = """\
import httpx


def explained() -> None:
    import jwt  # lazy: heavy

    from . import forge


def explained_above() -> None:
    x = 1
    # lazy: heavy,
    # and said on two lines
    from cryptography import x509
    from .._keyring import Keyring


def plain() -> None:
    import json
    import sys

    from . import forge
    from conformance.catalog import CASES
    from matplotlib import figure


def nested() -> None:
    def inner() -> None:
        if True:
            import starlette  # lazy: heavy
        else:
            import uvicorn
"""
    assert unexplained_lazy_imports(source) == [
        (22, "from . import forge"),
        (23, "from conformance.catalog import CASES"),
        (24, "from matplotlib import figure"),
        (32, "import uvicorn"),
    ]


# --- the package -------------------------------------------------------------------------


def test_no_import_cycle_in_the_package(graph: grimp.ImportGraph) -> None:
    components = strongly_connected(_edges(graph))
    assert not components, "import cycles:\n" + _report(graph, components)


def test_no_import_cycle_passes_through_the_token_modules(graph: grimp.ImportGraph) -> None:
    edges = _edges(graph)
    emulator = {m for m in graph.modules if m.startswith("conformance.emulator")}
    guarded = set(TOKEN_MODULES) | emulator
    assert set(TOKEN_MODULES) <= set(graph.modules)
    touching = [c for c in strongly_connected(edges) if guarded & set(c)]
    assert not touching, "import cycles through token modules:\n" + _report(graph, touching)


def test_the_emulator_shares_no_code_with_the_token_writers(graph: grimp.ImportGraph) -> None:
    emulator = sorted(m for m in graph.modules if m.startswith("conformance.emulator"))
    assert "conformance.emulator.validation" in emulator
    direct = [
        f"{module} imports {writer}"
        for module in emulator
        for writer in TOKEN_WRITERS
        if graph.direct_import_exists(importer=module, imported=writer)
    ]
    assert not direct, direct
    # Not through a shared helper either (say, if _http ever imported the forge).
    indirect = [
        " -> ".join(chain)
        for module in emulator
        for writer in TOKEN_WRITERS
        if (chain := graph.find_shortest_chain(importer=module, imported=writer)) is not None
    ]
    assert not indirect, indirect


def test_forge_and_keyring_import_one_way(graph: grimp.ImportGraph) -> None:
    assert (
        graph.find_shortest_chain(importer="conformance._keyring", imported="conformance.forge")
        is None
    ), "the keyring must not import the forge"
    both = graph.direct_import_exists(
        importer="conformance.forge", imported="conformance._keyring"
    ) and graph.direct_import_exists(importer="conformance._keyring", imported="conformance.forge")
    assert not both


def test_the_jose_core_imports_no_other_module_of_the_package(graph: grimp.ImportGraph) -> None:
    assert graph.find_modules_directly_imported_by("conformance._jose") == set()
    # And the modules standing on it do stand on it.
    for module in ("conformance.forge", "conformance._keyring", "conformance._assertion"):
        assert graph.direct_import_exists(importer=module, imported="conformance._jose"), module


def test_function_level_imports_say_why_they_are_lazy() -> None:
    root = _package_root()
    sources = sorted(root.rglob("*.py"))
    assert root / "plugin.py" in sources
    found = [
        (path.relative_to(root.parent).as_posix(), line, statement)
        for path in sources
        for line, statement in unexplained_lazy_imports(path.read_text(encoding="utf-8"))
    ]
    offenders = [f"{p}:{line}: {st}" for p, line, st in found]
    assert not offenders, (
        "function-level imports without a '# lazy: <why>' comment (hoist them to module "
        "level, or say what heavy thing they keep out of which cheap module):\n"
        + "\n".join(offenders)
    )
