"""``conformance replay RESULTS CASE_ID``: re-send one case and print its new verdict.

The case runs again with fresh assertions (new ``jti``, new times) against the target the
results were made with: the configured target (its configuration file, recorded in the
results, or ``--config``), or a fresh embedded emulator with the same flaws, policy
variants and keys when the run was embedded. The verdict is judged and settled as the run
did (``strict`` as recorded; waivers are not applied: replay shows what the target does).

``--print-assertion`` sends nothing to the exchange endpoint: it signs the assertion the
case's attempt would send (fresh ``jti``, the configured key) and prints it with its
signature cut (secrets never appear whole in any output). ``--assertion-file FILE`` does
the same and writes the whole assertion to FILE, created with mode 0600 (an existing file
is refused), for the ``$ASSERTION`` of the evidence's curl line
(``ASSERTION=$(cat FILE)``); stderr says where it went.

Exit codes: 0 the case passed (or warned, or was skipped), 1 it failed or erred, 2 bad
input (a results file that does not hold the case, a configuration naming another
target), with one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._exceptions import ConfigError

if TYPE_CHECKING:
    from ._engine import CaseResult, Runtime
    from .catalog import Case
    from .targets.base import ExchangeRequest

#: why a request was not sent (``--print-assertion``)
NOT_SENT = "not sent: conformance replay --print-assertion"
#: the file mode of ``--assertion-file``: the owner's only (an assertion is a credential)
ASSERTION_FILE_MODE = 0o600


def register(subparsers: Any) -> None:
    replay = subparsers.add_parser(
        "replay",
        help="re-send one case of a results file against the same target",
        description="Run one case of RESULTS.json again, with fresh assertions, against the "
        "target it was run against (the configuration recorded in the results or --config; "
        "a fresh embedded emulator with the same flaws for an embedded run), and print the "
        "new verdict. Exit 0 pass/warn/skip, 1 fail/error, 2 bad input.",
    )
    replay.add_argument("results", type=Path, metavar="RESULTS.json")
    replay.add_argument("case_id", metavar="CASE_ID")
    replay.add_argument("--config", type=Path, metavar="FILE", help="the target's configuration")
    replay.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="MODULE",
        help="the case module an extension case comes from (repeatable)",
    )
    replay.add_argument(
        "--print-assertion",
        action="store_true",
        help="print a fresh assertion of the case with its signature cut; send nothing",
    )
    replay.add_argument(
        "--assertion-file",
        type=Path,
        metavar="FILE",
        help="write a fresh assertion of the case WHOLE (signature included) to FILE, a new "
        "file of mode 0600, for the curl line's $ASSERTION; send nothing",
    )
    replay.set_defaults(func=run_replay)


def _case_record(document: Mapping[str, Any], case_id: str, path: Path) -> Mapping[str, Any]:
    for record in document.get("cases") or ():
        if isinstance(record, Mapping) and record.get("id") == case_id:
            return record
    raise ConfigError(
        f"{path}: holds no case {case_id!r}; copy the id from its report or junit.xml"
    )


def _catalog_case(case_id: str, modules: list[str]) -> Case:
    from .catalog import load_cases  # lazy: the CLI's start loads no catalog

    for case in load_cases(modules):
        if case.id == case_id:
            return case
    raise ConfigError(
        f"case {case_id!r} is not in this version's catalog; for an extension case add "
        "--cases MODULE"
    )


def _config_path(target: Mapping[str, Any], given: Path | None, results: Path) -> Path:
    if given is not None:
        return given
    source = target.get("config")
    if not isinstance(source, str) or not source:
        raise ConfigError(
            f"{results} does not say which configuration named its target; pass --config FILE"
        )
    path = Path(source.split(" [", 1)[0])  # "<dir>/pyproject.toml [tool.conformance]"
    if not path.is_absolute() and not path.exists():
        raise ConfigError(
            f"{results} names its configuration {path} relative to the directory the run "
            "started in, and it is not here; replay from that directory or pass --config FILE"
        )
    return path


@contextmanager
def _runtime(document: Mapping[str, Any], args: argparse.Namespace) -> Iterator[Runtime]:
    # lazy: the runtime stack (httpx, the emulator) loads only for this command
    from ._config import load_run_config
    from ._runtime import build_runtime
    from ._sarif import target_label
    from ._verdict import Policy

    run: Mapping[str, Any] = document.get("run") or {}
    target: Mapping[str, Any] = run.get("target") or {}
    policy = Policy(strict=bool(run.get("strict")))
    if target.get("embedded"):
        if args.config is not None:
            raise ConfigError(
                f"{args.results} was run against the embedded emulator; drop --config "
                "(replay starts a fresh emulator with the same flaws)"
            )
        with build_runtime(
            None,
            flaws=list(target.get("flaws") or ()),
            variants=list(target.get("variants") or ()),
            policy=policy,
            algs=list(target.get("embedded_algs") or ()) or None,
        ) as runtime:
            yield runtime
        return
    path = _config_path(target, args.config, args.results)
    if path.name == "pyproject.toml":
        config = load_run_config(None, cwd=path.parent)
    else:
        config = load_run_config(path, cwd=Path.cwd())
    if config is None:
        raise ConfigError(f"{path}: holds no [tool.conformance] table")
    with build_runtime(config, policy=policy) as runtime:
        recorded, now = target_label(target), target_label(runtime.target.description)
        if recorded != now:
            raise ConfigError(
                f"{path} names target {now}, but {args.results} was run against {recorded}; "
                "pass the configuration of that target with --config"
            )
        yield runtime


class _Capture:
    """A target that sends nothing: it records the requests and answers none of them."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.requests: list[ExchangeRequest] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def exchange(self, request: ExchangeRequest) -> Any:
        from .targets._evidence import recorded  # lazy: see _runtime

        self.requests.append(request)
        return recorded(
            label=request.label,
            method="POST",
            url="",
            request_headers={},
            request_body="",
            status=None,
            response_headers={},
            response_body="",
            latency_ms=0.0,
            assertion=None,
            issued=None,
            error=NOT_SENT,
        )


def write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file at ``path`` readable by its owner only (mode 0600 from
    its creation: never a moment world-readable). An existing file is refused (it may be
    someone else's, or readable by others): one line, exit 2."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ASSERTION_FILE_MODE)
    except FileExistsError:
        raise ConfigError(f"{path} exists; remove it or name a new file") from None
    except OSError as error:
        raise ConfigError(f"cannot create {path}: {error.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")


def _print_assertion(runtime: Runtime, case: Case, file: Path | None) -> int:
    # lazy: see _runtime
    from ._engine import run_case
    from ._redact import cut_signature

    capture = _Capture(runtime.target)
    dry = dataclasses.replace(runtime, target=capture)
    run_case(dry, case)
    sent = [r.assertion for r in capture.requests if r.assertion]
    if not sent:
        raise ConfigError(f"case {case.id!r} sends no assertion of its own to print")
    # never whole on a terminal or in a CI log: only in a file of the user's own
    print(cut_signature(sent[0]))
    if file is None:
        print(
            "replay: the signature is cut; --assertion-file FILE writes the whole assertion "
            "to a new file of mode 0600",
            file=sys.stderr,
        )
    else:
        write_secret_file(file, sent[0])
        print(
            f"replay: wrote the whole assertion (signature included) to {file} (mode 0600); "
            f"ASSERTION=$(cat {file})",
            file=sys.stderr,
        )
    return 0


def _print_result(result: CaseResult, before: str, label: str) -> None:
    from ._engine import failure_message  # lazy: see _runtime

    print(f"replay: {result.case.id} against {label}")
    print(f"verdict: {result.verdict} (was {before})")
    if result.message:
        print(result.message)
    if result.judged in {"fail", "error"}:
        print(failure_message(result))


def run_replay(args: argparse.Namespace) -> int:
    # lazy: the report's reader and the engine load only for this command
    from ._engine import run_case
    from ._runtime import check_baseline
    from ._sarif import target_label
    from .report._load import load_results

    document = load_results(args.results)
    record = _case_record(document, args.case_id, args.results)
    case = _catalog_case(args.case_id, args.cases)
    label = target_label((document.get("run") or {}).get("target") or {})
    embedded = bool(((document.get("run") or {}).get("target") or {}).get("embedded"))
    printing = args.print_assertion or args.assertion_file is not None
    if printing and embedded:
        flag = "--print-assertion" if args.print_assertion else "--assertion-file"
        raise ConfigError(
            f"{args.results} was run against the embedded emulator, whose keys and port are "
            f"gone; replay the case without {flag}"
        )
    if args.assertion_file is not None and args.assertion_file.exists():
        raise ConfigError(f"{args.assertion_file} exists; remove it or name a new file")
    with _runtime(document, args) as runtime:
        if printing:
            return _print_assertion(runtime, case, args.assertion_file)
        check_baseline(runtime)
        result = run_case(runtime, case)
    _print_result(result, str(record.get("verdict")), label)
    return 1 if result.verdict in {"fail", "error"} else 0


#: The dispatcher's convention: ``run`` is the family's main command.
run = run_replay
