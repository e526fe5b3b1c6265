"""``conformance`` command line: one dispatcher, one ``_cli_*`` module per command family.

Each ``_cli_*`` module exposes ``register(subparsers)``, which adds its sub-commands and
sets ``func`` (``(argparse.Namespace) -> int``) as their default. Errors that are the
user's to fix (:class:`ConformanceError`) print one line and exit 2, never a traceback;
a reader that leaves early (``| head``) ends the command quietly with exit 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ._exceptions import ConformanceError
from ._version import __version__

_COMMAND_MODULES = (
    "_cli_run",
    "_cli_emulator",
    "_cli_keys",
    "_cli_report",
    "_cli_merge",
    "_cli_replay",
    "_cli_profiles",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus the message; keep it to one clear line and exit 2.
        self.exit(2, f"conformance: error: {message} (see 'conformance --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="conformance",
        description="A conformance suite for endpoints that exchange a signed assertion JWT "
        "for a token. Exit codes: 0 conformant, 1 a case failed, 2 could not run.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"conformance.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"conformance.{name}":
                continue  # command family not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code = int(func(args))
        sys.stdout.flush()  # inside the try: a reader that left is noticed here
        return code
    except ConformanceError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `conformance diff A B | head`: the reader left, which is not an error. Point
        # stdout at /dev/null so that the interpreter's last flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
