"""Every mistake a user can make on the command line ends the same way: ONE line on stderr
that names the problem, exit code 2, no traceback — and, where it can be checked before,
before any request is sent. A reader that leaves early (``| head``) ends the command
quietly. One walk through every error of issue 17 (slow: some start the suite).

Plain ``pytest --pyargs conformance.suite`` reports the same mistakes as pytest usage
errors: one ``ERROR:`` line and pytest's usage-error exit code 4.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cli

pytestmark = pytest.mark.slow

BAD_DATE = (
    '[[waiver]]\nid = "time.exp.missing"\nreason = "r"\nowner = "o"\nexpires = "2027-13-01"\n'
)


def one_error_line(err: str, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    return one_error_line(err, "conformance: error:")


def conformance(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A small results file written by a real run (no report)."""
    out = tmp_path / "run"
    proc = conformance("run", "--id", "time.exp.*", "--no-report", "--report-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    return out / "results.json"


# -- checked before anything is sent ----------------------------------------------------


@pytest.mark.parametrize(
    ("report_dir", "why"),
    [("/proc/no-such-dir/x", "No such file"), ("{file}/x", "Not a directory")],
)
def test_an_unwritable_report_dir_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, report_dir: str, why: str
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    where = report_dir.format(file=a_file)
    line = cli_error(capsys, "run", "--report-dir", where, "--id", "time.exp.missing")
    assert f"--report-dir {where}: cannot write there" in line and why in line
    assert not capsys.readouterr().out  # no case ran: pytest printed nothing


def test_a_missing_waivers_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    line = cli_error(capsys, "run", "--waivers", str(missing))
    assert str(missing) in line and "does not exist" in line


def test_a_waiver_with_a_bad_date(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "waivers.toml"
    bad.write_text(BAD_DATE)
    line = cli_error(capsys, "run", "--waivers", str(bad))
    assert "'2027-13-01' is not a date" in line


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--conformance-waivers", "{bad}", ("is not a date",)),
        ("--conformance-waivers", "{missing}", ("does not exist",)),
        ("--conformance-examples", "0", ("at least 1",)),
        ("--conformance-report-dir", "/proc/no-such-dir/x", ("cannot write there",)),
        ("--conformance-category", "nope", ("choose from", "time")),
        ("--conformance-config", "{bad_config}", ("target.profile must be one of",)),
        ("--conformance-cases", "no_such_module_xyz", ("not found",)),
    ],
)
def test_the_same_mistakes_through_pytest_are_one_usage_error_line(
    tmp_path: Path, option: str, value: str, words: tuple[str, ...]
) -> None:
    bad = tmp_path / "waivers.toml"
    bad.write_text(BAD_DATE)
    bad_config = tmp_path / "target.toml"
    bad_config.write_text('[target]\nprofile = "nope"\n')
    value = value.format(bad=bad, missing=tmp_path / "nope.toml", bad_config=bad_config)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", option, value],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    line = one_error_line(proc.stderr, "ERROR:", *words)
    assert "Traceback" not in proc.stdout and "collecting" not in proc.stdout, line


@pytest.mark.parametrize("value", ["abc", "-1", "2.5", ""])
def test_workers_must_be_a_number_or_auto(capsys: pytest.CaptureFixture[str], value: str) -> None:
    line = cli_error(capsys, "run", "-n", value)
    assert "-n must be a number of workers" in line and "auto" in line


@pytest.mark.parametrize("value", ["-5", "0"])
def test_examples_must_be_at_least_one(capsys: pytest.CaptureFixture[str], value: str) -> None:
    line = cli_error(capsys, "run", "--examples", value)
    assert f"--examples must be a whole number of at least 1, not {value}" in line


def test_cases_takes_the_category_names_users_type(capsys: pytest.CaptureFixture[str]) -> None:
    for spelling in ("time", "Times", "tim"):
        assert cli.main(["cases", "--category", spelling, "--format", "json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows and {r["category"] for r in rows} == {"time"}
    line = cli_error(capsys, "cases", "--category", "timing")
    assert "unknown category 'timing'" in line and "choose from envelope, claims, time" in line
    line = cli_error(capsys, "run", "--category", "nope")
    assert "choose from" in line


# -- the missing extra, the unreachable target, the broken pipe -------------------------


def test_report_without_the_report_extra_says_which_command_installs_it(
    results: Path, tmp_path: Path
) -> None:
    # the [report] extra's packages made unimportable, as in an install without it
    code = (
        "import sys\n"
        "for name in ('nbformat', 'nbclient', 'nbconvert'): sys.modules[name] = None\n"
        "from conformance.cli import main\n"
        f"sys.exit(main(['report', {str(results)!r}, '--out', {str(tmp_path / 'r')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    line = one_error_line(proc.stderr, "[report] extra", "-m pip install")
    assert "[report]'" in line


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_an_unreachable_target_is_said_once(tmp_path: Path, workers: list[str]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    url = f"http://127.0.0.1:{closed_port()}/oauth2/token"
    (tmp_path / "target.toml").write_text(
        f'[target]\nprofile = "rfc7523"\ntoken_url = "{url}"\nclient_id = "c"\n'
        'mode = "client_assertion"\naudience_kind = "token_url"\n'
        '[[target.keys]]\nkid = "k1"\nalg = "ES256"\nprivate_key = "key.pem"\n'
        "[transport]\ntimeout_s = 2\nretries = 0\n"
    )
    proc = conformance("run", "--config", "target.toml", "--no-report", *workers, cwd=tmp_path)
    assert proc.returncode == 2
    line = one_error_line(proc.stderr, "conformance: error:", "unreachable", url)
    assert "_pytest.outcomes.Exit" not in proc.stdout + proc.stderr
    assert line.split("error: ", 1)[1] not in proc.stdout  # said once, on stderr


@pytest.mark.parametrize("command", ["diff", "report", "cases"])
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    command: str, results: Path, tmp_path: Path
) -> None:
    argv = {
        "diff": ["diff", str(results), str(results), "--format", "json"],
        "report": ["report", str(results), "--out", str(tmp_path / "r")],
        "cases": ["cases"],
    }[command]
    # `conformance ... | head`: the reading end is closed before the command writes
    with subprocess.Popen(
        [sys.executable, "-m", "conformance", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert code == 0, err
    assert err == ""
