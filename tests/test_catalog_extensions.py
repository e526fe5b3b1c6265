"""``load_cases``: an organisation's own case modules next to the built-in catalog.

Loads ``tests/extension_cases.py`` (a real case module written with public names only)
by dotted name, by path and through the entry point of a real ``dist-info`` directory
made in ``tmp_path``; every mistake is a one-line ``ConfigError``. The last tests run the
extension cases against the embedded emulator (slow).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import conformance
from conformance import ConfigError
from conformance.catalog import BY_ID, CASES, ENTRY_POINT_GROUP, load_cases
from conformance.catalog.authoring import Case

HERE = Path(__file__).resolve().parent
EXTENSION_IDS = {"time.acme.exp_past_1h", "claims.acme.sub_null"}


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The case modules a test imports (or writes) are forgotten afterwards, so that each
    test imports its own fresh copy, as a new run would. Only those: forgetting the
    package's or a library's modules would make a second copy of their classes."""
    monkeypatch.syspath_prepend(str(HERE))
    yield
    for name in list(sys.modules):
        if name.startswith(("acme", "extension_cases", "conformance_cases_")):
            del sys.modules[name]


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """Write a module ``name`` with ``source`` into a directory on ``sys.path``."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


def install_dist(site: Path, entry_points: str, name: str = "acme-cases") -> None:
    """A real (if minimal) installed distribution: a ``dist-info`` with an entry point
    file, found by ``importlib.metadata`` because ``site`` is on ``sys.path``."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def ids(cases: tuple[Case, ...]) -> set[str]:
    return {c.id for c in cases}


# --- what loads ------------------------------------------------------------------------------


def test_without_extensions_the_catalog_is_the_built_in_one() -> None:
    assert load_cases(entry_points=False) == CASES


def test_a_module_by_dotted_name_adds_its_cases_in_category_order() -> None:
    cases = load_cases(["extension_cases"], entry_points=False)
    assert ids(cases) == set(BY_ID) | EXTENSION_IDS
    assert len(cases) == len(CASES) + 2
    categories = [c.category for c in cases]
    assert categories == sorted(categories, key=conformance.catalog.CATEGORIES.index)
    # after the built-in cases of its category, which keep their order
    time_ids = [c.id for c in cases if c.category == "time"]
    assert time_ids[-1] == "time.acme.exp_past_1h"
    assert [c for c in cases if c.id not in EXTENSION_IDS] == list(CASES)


def test_a_module_by_path() -> None:
    cases = load_cases([str(HERE / "extension_cases.py")], entry_points=False)
    assert ids(cases) - set(BY_ID) == EXTENSION_IDS


def test_extension_cases_get_the_profile_data(write_module: Callable[[str, str], Path]) -> None:
    write_module(
        "acme_scope",
        """
        from conformance.catalog.authoring import claims_case
        CASES = [claims_case("scope.acme.upper", "Upper-case scope", category="scope",
                             mutate=lambda a, ctx: a, rationale="why")]
        """,
    )
    (loaded,) = [c for c in load_cases(["acme_scope"], entry_points=False) if "acme" in c.id]
    assert loaded.profiles == {"dynamic"}  # catalog/profiles.py: scope.* is Dynamic's


def test_entry_points_of_an_installed_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_ep.py").write_text(
        "from conformance.catalog.authoring import claims_case\n"
        "def make_cases():\n"
        "    return [claims_case('claims.acme.from_callable', 'From a callable',\n"
        "                        mutate=lambda a, ctx: a, rationale='why')]\n"
    )
    install_dist(
        site,
        f"""
        [{ENTRY_POINT_GROUP}]
        acme = extension_cases
        acme_fn = acme_ep:make_cases
        """,
    )
    monkeypatch.syspath_prepend(str(site))
    loaded = ids(load_cases()) - set(BY_ID)
    assert loaded == EXTENSION_IDS | {"claims.acme.from_callable"}
    assert ids(load_cases(entry_points=False)) == set(BY_ID)
    # the same module reached through an entry point and by name counts once
    assert ids(load_cases(["extension_cases"])) - set(BY_ID) == loaded


# --- what is refused, in one line ------------------------------------------------------------


def refused(*modules: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_cases(modules, entry_points=False)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_module() -> None:
    message = refused("acme_nowhere")
    assert "case module 'acme_nowhere' not found" in message
    assert "PYTHONPATH" in message


def test_a_missing_file(tmp_path: Path) -> None:
    message = refused(str(tmp_path / "acme.py"))
    assert "acme.py' does not exist" in message


def test_a_module_whose_dependency_is_missing(write_module: Callable[[str, str], Path]) -> None:
    write_module("acme_dep", "import acme_not_installed\n")
    assert "imports 'acme_not_installed', which is not installed" in refused("acme_dep")


def test_a_module_that_raises(write_module: Callable[[str, str], Path]) -> None:
    write_module(
        "acme_bad_category",
        """
        from conformance.catalog.authoring import claims_case
        CASES = (claims_case("acme.x", "x", category="acme", mutate=lambda a, c: a,
                             rationale="why"),)
        """,
    )
    message = refused("acme_bad_category")
    assert "case module 'acme_bad_category' failed to import" in message
    assert "unknown category 'acme'" in message


def test_a_module_without_cases(write_module: Callable[[str, str], Path]) -> None:
    write_module("acme_empty", "X = 1\n")
    assert "case module 'acme_empty' has no CASES" in refused("acme_empty")


def test_cases_that_are_not_a_sequence(write_module: Callable[[str, str], Path]) -> None:
    write_module("acme_str", "CASES = 'time.exp.past_5min'\n")
    assert "CASES is a str, not a sequence of Case" in refused("acme_str")


def test_an_item_that_is_not_a_case(write_module: Callable[[str, str], Path]) -> None:
    write_module(
        "acme_dict",
        """
        from extension_cases import CASES as REAL
        CASES = [REAL[0], {"id": "time.acme.dict"}]
        """,
    )
    message = refused("acme_dict")
    assert "case module 'acme_dict': CASES[1] is a dict, not a Case" in message
    assert "conformance.catalog.authoring" in message


def test_an_id_that_clashes_with_a_built_in(write_module: Callable[[str, str], Path]) -> None:
    write_module(
        "acme_clash",
        """
        from conformance.catalog.authoring import claims_case
        CASES = (claims_case("time.exp.past_5min", "mine", category="time",
                             mutate=lambda a, c: a, rationale="why"),)
        """,
    )
    message = refused("acme_clash")
    assert "'time.exp.past_5min' is already defined by the built-in catalog" in message
    assert "'time.acme.exp.past_5min'" in message


def test_an_id_that_clashes_between_extensions(write_module: Callable[[str, str], Path]) -> None:
    write_module("acme_copy", "from extension_cases import CASES\n")
    message = refused("extension_cases", "acme_copy")
    assert message.startswith("case module 'acme_copy': case id")
    assert "already defined by case module 'extension_cases'" in message


def test_an_id_outside_its_category(write_module: Callable[[str, str], Path]) -> None:
    write_module(
        "acme_id",
        """
        from conformance.catalog.authoring import claims_case
        CASES = (claims_case("Acme-Case", "x", category="time", mutate=lambda a, c: a,
                             rationale="why"),)
        """,
    )
    assert "case id 'Acme-Case' is not <category>.<condition>" in refused("acme_id")


def test_an_entry_point_that_fails_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_dist(tmp_path, f"[{ENTRY_POINT_GROUP}]\nbroken = acme_gone\n", name="acme-broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as info:
        load_cases()
    message = str(info.value)
    assert message.startswith("entry point 'broken' (acme_gone) of acme-broken 1.0 failed")
    assert "uninstall" in message and "\n" not in message


def test_the_authoring_docstring_example_loads(tmp_path: Path) -> None:
    from conformance.catalog import authoring

    example = textwrap.dedent(str(authoring.__doc__).split("::\n", 1)[1])
    path = tmp_path / "acme_cases.py"
    path.write_text(example)
    added = ids(load_cases([str(path)], entry_points=False)) - set(BY_ID)
    assert added == {"claims.acme.tenant_missing", "claims.acme.tenant_null"}


# --- the extension cases are real cases ------------------------------------------------------


@pytest.mark.slow
def test_extension_cases_pass_against_the_emulator_and_catch_its_flaw() -> None:
    import extension_cases

    with conformance.open_runtime() as runtime:
        verdicts = {c.id: conformance.run_case(runtime, c).verdict for c in extension_cases.CASES}
    assert verdicts == dict.fromkeys(EXTENSION_IDS, "pass")
    with conformance.open_runtime(flaws=["exp_not_checked"]) as runtime:
        result = conformance.run_case(runtime, extension_cases.CASES[0])
    assert result.verdict == "fail"
