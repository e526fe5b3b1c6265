"""What a new user and a CI job run to install the suite: the README's two commands (in a
virtual environment, so a PEP 668 system Python is no obstacle; `.ci/run` calls the
second verbatim), CI that installs what it tests (never the unpublished name from an
index), and a wheel that carries the notebooks and the LICENSE."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from conformance.report import render

REPO = Path(__file__).resolve().parents[1]
CI_FILES = ("docs/ci.md", "examples/github-actions.yml", "action.yml")


def sh_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_the_readme_opens_with_two_commands_that_make_a_virtual_environment() -> None:
    main, tests = (block.strip() for block in sh_blocks(REPO / "README.md")[:2])
    for command in (main, tests):
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install")
    assert main.endswith(".venv/bin/conformance run") and "'.[report]'" in main
    assert tests.endswith(".venv/bin/python -m pytest") and "'.[test]'" in tests


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    tests = sh_blocks(REPO / "README.md")[1].strip()
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in lines


def test_xdist_comes_with_the_main_install() -> None:
    # `conformance run -n 2` right after the README's first command
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(d.startswith("pytest-xdist") for d in project["dependencies"])


@pytest.mark.parametrize("name", CI_FILES)
def test_ci_installs_the_suite_from_a_pinned_commit_or_a_local_build(name: str) -> None:
    text = (REPO / name).read_text(encoding="utf-8")
    installs = re.findall(r"pip install [^\n]*", text)
    assert installs, name
    for line in installs:
        if "exchange-conformance" in line and "@ git+" in line:
            assert re.search(r"@(?:[0-9a-f]{40}|<full commit id>)\"", line), line
        else:  # a wheel or a checkout built in the job, never a name from an index
            assert re.search(r"\.whl|\$SUITE|\./", line), line


def test_the_ci_page_shows_the_example_workflow() -> None:
    example = (REPO / "examples" / "github-actions.yml").read_text(encoding="utf-8")
    page = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    assert example.split("\n", 1)[1].rstrip() in page


def test_the_packaged_notebooks_are_the_repositorys() -> None:
    assert (
        render.explore_notebook().read_bytes()
        == (REPO / "notebooks" / "explore.ipynb").read_bytes()
    )
    assert (
        render.template_notebook().read_bytes()
        == (REPO / "notebooks" / "report.ipynb").read_bytes()
    )


@pytest.mark.slow
def test_the_wheel_carries_the_notebooks_and_the_license(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("exchange_conformance-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "conformance/report/report.ipynb" in names
    assert "conformance/report/explore.ipynb" in names
    assert "conformance/profiles/dynamic.toml" in names  # `conformance profiles` reads them
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
