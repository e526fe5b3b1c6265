"""Emulator configuration, the cheap package import, and the ``conformance emulator`` CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance._exceptions import ConfigError
from conformance.cli import main
from conformance.emulator import FLAWS, EmulatorConfig, Environment

GOOD_TOML = """
leeway_s = 10
flaws = ["exp_not_checked"]

[[environments]]
id = "env-a"
issuer = "https://a.example"
jwks_url = "http://127.0.0.1:9/a.json"
audience = "https://app.example"

[[environments]]
id = "env-b"
issuer = "https://b.example"
jwks_url = "http://127.0.0.1:9/b.json"
"""


def test_from_toml_reads_everything(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text(GOOD_TOML, encoding="utf-8")
    config = EmulatorConfig.from_toml(path)
    assert config.leeway_s == 10
    assert config.flaws == frozenset({"exp_not_checked"})
    assert config.environment("env-a") == Environment(
        "env-a", "https://a.example", "http://127.0.0.1:9/a.json", "https://app.example"
    )
    assert config.environment("nope") is None
    assert EmulatorConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (GOOD_TOML.replace("leeway_s", "leway_s"), "'leway_s'"),
        (GOOD_TOML.replace("audience", "audiance"), "'audiance'"),
        (GOOD_TOML.replace('"exp_not_checked"', '"nope"'), "'nope'"),
        (GOOD_TOML.replace("leeway_s = 10", 'leeway_s = "x"'), "leeway_s"),
        ("leeway_s = 1\n", "environments"),
        (GOOD_TOML + "[", "not valid"),
    ],
)
def test_from_toml_errors_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "e.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        EmulatorConfig.from_toml(path)


def test_bad_values_raise_config_error() -> None:
    env = Environment("e", "https://i", "http://127.0.0.1:1/j")
    with pytest.raises(ConfigError):
        EmulatorConfig(environments=())
    with pytest.raises(ConfigError):
        EmulatorConfig(environments=(env, env))
    with pytest.raises(ConfigError):
        Environment("e", "https://i", "file:///etc/passwd")
    with pytest.raises(ConfigError, match="known flaws"):
        EmulatorConfig(environments=(env,), flaws=frozenset({"bogus"}))


def test_unknown_flaw_on_cli_exits_2_listing_flaws(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--flaw", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err
    assert all(name in err for name in FLAWS)


@pytest.mark.slow
def test_package_import_is_cheap() -> None:
    code = (
        "import sys, conformance.emulator as e; e.FLAWS; "
        "print(sorted(m for m in ('starlette', 'jwt', 'uvicorn', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_demo_cli_snippet_works_and_hides_the_key(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "conformance.cli", "emulator", "--state", str(tmp_path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not lines or not lines[-1].startswith("print(reply.status_code"):
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line.rstrip("\n"))
            assert time.monotonic() < deadline
        output = "\n".join(lines)
        assert "BEGIN" not in output and "PRIVATE" not in output.replace("keep private", "")
        assert (tmp_path / "demo-signing-key.pem").read_bytes().startswith(b"-----BEGIN")
        assert "issuer https://demo-issuer.conformance.invalid" in output
        snippet = output[output.index("import time, uuid") :]
        result = None
        for _ in range(50):  # the server may still be starting
            result = subprocess.run(
                [sys.executable, "-c", snippet], capture_output=True, text=True, check=False
            )
            if result.returncode == 0:
                break
            time.sleep(0.1)
        assert result is not None and result.returncode == 0, result.stderr if result else ""
        assert result.stdout.startswith("200 {'iss'")
        assert "'scope': 'wallet:export'" in result.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout:
            proc.stdout.close()
