"""The options of ``conformance run`` that pass on unchanged, in one table: to pytest as
``--conformance-*`` (``_cli_run.pytest_args``), and, for a run of several targets, to
each target's own ``conformance run`` (``_fleet.child_args``). An option added here
reaches both."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

__all__ = ["PASSED", "Passed", "passed_on"]


@dataclass(frozen=True, slots=True)
class Passed:
    """One option: its ``argparse`` attribute, its ``conformance run`` and pytest names,
    and its shape (``many``: repeatable; ``one``: a value; ``flag``: on or off)."""

    attr: str
    cli: str
    pytest: str
    shape: Literal["many", "one", "flag"]


PASSED: tuple[Passed, ...] = (
    Passed("category", "--category", "--conformance-category", "many"),
    Passed("id", "--id", "--conformance-id", "many"),
    Passed("cases", "--cases", "--conformance-cases", "many"),
    Passed("level", "--level", "--conformance-level", "one"),
    Passed("strict", "--strict", "--conformance-strict", "flag"),
    Passed("slow_tier", "--slow-tier", "--conformance-slow-tier", "flag"),
    Passed("waivers", "--waivers", "--conformance-waivers", "one"),
    Passed("deadline", "--deadline", "--conformance-deadline", "one"),
    Passed("examples", "--examples", "--conformance-examples", "one"),
    Passed("profile", "--profile", "--conformance-profile", "one"),
)


def passed_on(args: argparse.Namespace, *, to: Literal["pytest", "cli"]) -> list[str]:
    """The argv of :data:`PASSED` for ``args``, in pytest's or ``conformance run``'s
    option names."""
    argv: list[str] = []
    for option in PASSED:
        name = option.pytest if to == "pytest" else option.cli
        value = getattr(args, option.attr, None)
        if option.shape == "many":
            for item in value or ():
                argv += [name, str(item)]
        elif option.shape == "flag":
            if value:
                argv.append(name)
        elif value is not None and value != "":
            argv += [name, str(value)]
    return argv
