"""``conformance emulator`` as a tool: its help lists every flaw and variant in plain text,
its TOML is documented key by key, a non-loopback address is warned about, and ``--log``
writes one line per request with nothing secret in it."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance import cli
from conformance._cli_emulator import _loopback
from conformance.emulator.config import EmulatorConfig, Environment
from conformance.emulator.flaws import FLAWS
from conformance.emulator.requestlog import safe_path
from conformance.emulator.variants import VARIANTS

REPO = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^\S+Z (GET|POST|PUT|DELETE) /\S* (\d{3}|-) \d+\.\dms$")


def test_help_is_plain_text_and_lists_every_flaw_and_variant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["emulator", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out  # no raw reStructuredText
    lines = out.splitlines()
    for name, thing in [*FLAWS.items(), *VARIANTS.items()]:
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert " ".join(thing.description.split()) in line  # the whole text, on one line
    assert "docs/emulator.md" in out and "--log" in out


def test_every_emulator_toml_key_is_documented() -> None:
    page = (REPO / "docs" / "emulator.md").read_text(encoding="utf-8")
    for f in (*dataclasses.fields(EmulatorConfig), *dataclasses.fields(Environment)):
        assert re.search(rf"^\| `{f.name}` \|", page, re.M), f.name


def test_the_documented_example_loads(tmp_path: Path) -> None:
    page = (REPO / "docs" / "emulator.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", page, re.S)
    assert example is not None
    path = tmp_path / "emulator.toml"
    path.write_text(example.group(1))
    config = EmulatorConfig.from_toml(path)
    assert config.environments and config.flaws == frozenset()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert _loopback(host) is loopback


def test_a_logged_path_keeps_tokens_out() -> None:
    token = "eyJhbGciOiJFUzI1NiJ9." + "a" * 80 + "." + "b" * 86
    path = safe_path(f"/api/v0/sdk/{token}/verify?jwt={token}".encode())
    assert "eyJ" not in path and "jwt=" not in path
    assert path.startswith("/api/v0/sdk/[") and path.endswith("/verify")
    assert safe_path(b"/a\x1b[31m\n/b") == "/a%1B%5B31m%0A/b"
    assert len(safe_path(b"/x" * 1000)) <= 301


def read_until_snippet(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while not lines or not lines[-1].startswith("print(reply.status_code"):
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line.rstrip("\n"))
        assert time.monotonic() < deadline
    return "\n".join(lines)


@pytest.mark.slow
def test_the_request_log_has_one_line_per_request_and_no_secret(tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    command = [sys.executable, "-m", "conformance", "emulator", "--state", str(tmp_path)]
    command += ["--log", str(log)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output = read_until_snippet(proc)
        assert f"request log: {log}" in output
        snippet = output[output.index("import time, uuid") :]
        # the demo snippet signs in and exchanges an assertion; keep what it sent and got
        keep = "\nimport json; print(json.dumps([signin_jwt, session, assertion, token]))"
        result = None
        for _ in range(50):  # the server may still be starting
            result = subprocess.run(
                [sys.executable, "-c", snippet + keep], capture_output=True, text=True
            )
            if result.returncode == 0:
                break
            time.sleep(0.1)
        assert result is not None and result.returncode == 0, result.stderr if result else ""
        secrets = result.stdout.splitlines()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
    assert "warning" not in err  # loopback: no warning
    lines = log.read_text().splitlines()
    for line in lines:
        assert LINE.match(line), line
    answered = [line for line in lines if "/externalAuth/" in line]
    assert [line.split()[1:4:2] for line in answered][-2:] == [["POST", "200"], ["POST", "200"]]
    text = log.read_text()
    import json

    for secret in json.loads(secrets):
        for part in secret.split("."):
            assert part not in text
    pem = (tmp_path / "demo-signing-key.pem").read_text()
    assert "BEGIN" not in text and "Bearer" not in text and "eyJ" not in text
    assert pem.splitlines()[1] not in text


@pytest.mark.slow
def test_a_non_loopback_address_is_warned_about() -> None:
    command = [sys.executable, "-m", "conformance", "emulator", "--host", "0.0.0.0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        read_until_snippet(proc)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "0.0.0.0" in warning[0] and "deliberately breakable" in warning[0]
