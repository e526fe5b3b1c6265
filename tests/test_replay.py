"""``conformance replay``: one case re-sent against the same target with fresh assertions,
its new verdict printed (exit 1 on fail); the curl line of the evidence names what to
fill in. Runs against a fresh embedded emulator and a configured one (servers)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from configured_emulator import configured_emulator

from conformance import ConfigError, cli
from conformance._cli_replay import _config_path
from conformance._jose import b64url_decode
from conformance._reproduce import reproduce_line
from conformance.targets.base import Exchange

ALG_NONE = "algorithms.none.lowercase.empty_signature"


def _exchange(**changes: object) -> Exchange:
    fields: dict[str, object] = {
        "label": "attempt",
        "method": "POST",
        "url": "https://app.dynamicauth.com/api/v0/sdk/env-1/externalAuth/verify",
        "request_headers": {
            "authorization": "Bearer [redacted]",
            "content-type": "application/json",
        },
        "request_body": '{"jwt": "eyJhbGciOiJub25lIn0.e30.[signature cut: 0 chars]"}',
        "status": 200,
        "response_headers": {},
        "response_body": "",
        "latency_ms": 1.0,
        "assertion": "eyJhbGciOiJub25lIn0.e30.",
    }
    fields.update(changes)
    return Exchange(**fields)  # type: ignore[arg-type]


def test_the_curl_line_names_each_value_to_fill_in_and_where_it_comes_from() -> None:
    line = reproduce_line([_exchange()], case_id=ALG_NONE)
    command, _, comment = line.partition("  # ")
    assert '-H "authorization: Bearer $SESSION_TOKEN"' in command
    assert '--data "{\\"jwt\\": \\"$ASSERTION\\"}"' in command
    assert (
        f"$ASSERTION = conformance replay RESULTS.json {ALG_NONE} "
        "--assertion-file a.jwt, then $(cat a.jwt)" in comment
    )
    assert "$SESSION_TOKEN = the bearer of your signed-in user's session" in comment
    assert "port is gone" not in comment


def test_the_curl_line_expands_only_its_placeholders() -> None:
    body = '{"jwt": "x.y.z", "note": "$(rm -rf ~) `id` \\"q\\""}'
    line = reproduce_line([_exchange(request_body=body)], case_id="c.d.e")
    data = line.split("--data ", 1)[1].split("  # ")[0]
    assert data.startswith('"') and data.endswith('"')
    assert "\\$(rm -rf ~)" in data and "\\`id\\`" in data and "$ASSERTION" in data


def test_a_form_body_gets_the_placeholder_in_its_assertion_field() -> None:
    exchange = _exchange(
        url="https://as.example/token",
        request_headers={"content-type": "application/x-www-form-urlencoded"},
        request_body="grant_type=client_credentials&client_assertion=a.b.c&client_id=c1",
    )
    line = reproduce_line([exchange], case_id="c.d.e")
    assert '"grant_type=client_credentials&client_assertion=$ASSERTION&client_id=c1"' in line
    assert "SESSION_TOKEN" not in line


def test_the_assertion_is_found_by_value_in_the_body_as_sent() -> None:
    """A profile's own field names, a nested member, a header scheme, and a recorded body
    cut short by its bound (a 10 KB jti): the line has ``$ASSERTION`` where the assertion
    went and every other field as sent (``tenant=t1`` was lost after a long one)."""
    token = "eyJhbGciOiJFUzI1NiJ9." + "j" * 10240 + ".c2ln"
    sent = f"grant=byo&jwt={token}&tenant=t1"
    form = _exchange(
        url="https://byo.example/token",
        request_headers={"content-type": "application/x-www-form-urlencoded"},
        request_body=sent[:600] + "…[truncated]",
        raw_request_body=sent,
        assertion=token,
    )
    line = reproduce_line([form], case_id="c.d.e")
    assert '--data "grant=byo&jwt=$ASSERTION&tenant=t1"' in line
    assert "SESSION_TOKEN" not in line and "$ASSERTION = conformance replay" in line
    nested = _exchange(
        request_body="{}",
        raw_request_body=json.dumps({"data": {"token": token}, "n": 1}),
        assertion=token,
    )
    assert '{\\"data\\": {\\"token\\": \\"$ASSERTION\\"}, \\"n\\": 1}' in reproduce_line([nested])
    header = _exchange(
        request_headers={"authorization": "[redacted]", "content-type": "application/json"},
        raw_request_headers={"authorization": f"JWT {token}", "content-type": "application/json"},
        request_body='{"tenant": "t1"}',
        raw_request_body='{"tenant": "t1"}',
        assertion=token,
    )
    line = reproduce_line([header], case_id="c.d.e")
    assert '-H "authorization: JWT $ASSERTION"' in line
    assert "SESSION_TOKEN" not in line and "$ASSERTION = conformance replay" in line


def test_an_embedded_target_points_to_replay() -> None:
    exchange = _exchange(url="http://127.0.0.1:41234/api/v0/sdk/env-1/externalAuth/verify")
    line = reproduce_line([exchange], case_id=ALG_NONE, embedded=True)
    assert f"conformance replay RESULTS.json {ALG_NONE} re-sends the case" in line
    assert "port is gone" in line


def test_a_configured_loopback_target_is_not_called_gone() -> None:
    """A separately started target on loopback is still there after the run: its curl
    line must not say its port is gone."""
    exchange = _exchange(url="http://127.0.0.1:8090/api/v0/sdk/env-1/externalAuth/verify")
    line = reproduce_line([exchange], case_id=ALG_NONE)
    assert "port is gone" not in line
    assert "$ASSERTION = conformance replay RESULTS.json" in line


def _run(out: Path, *argv: str) -> int:
    return cli.main(["run", "--no-report", "--report-dir", str(out), *argv])


@pytest.mark.slow
def test_replay_against_a_fresh_embedded_emulator_with_the_same_flaws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = _run(out, "--flaw", "alg_none_accepted", "--id", ALG_NONE, "--id", "time.exp.past_5min")
    assert code == 1
    results = out / "results.json"
    capsys.readouterr()
    assert cli.main(["replay", str(results), ALG_NONE]) == 1
    printed = capsys.readouterr().out
    assert f"replay: {ALG_NONE} against embedded" in printed
    assert "verdict: fail (was fail)" in printed
    assert "Reproduce:" in printed
    assert cli.main(["replay", str(results), "time.exp.past_5min"]) == 0
    assert "verdict: pass (was pass)" in capsys.readouterr().out
    # what the flaw was fixed would say: the recorded flaw is what makes it fail again
    fixed = json.loads(results.read_text())
    fixed["run"]["target"]["flaws"] = []
    (tmp_path / "fixed.json").write_text(json.dumps(fixed))
    assert cli.main(["replay", str(tmp_path / "fixed.json"), ALG_NONE]) == 0
    assert "verdict: pass (was fail)" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["no.such.case"], "holds no case 'no.such.case'"),
        ([ALG_NONE, "--config", "x.toml"], "drop --config"),
        ([ALG_NONE, "--print-assertion"], "replay the case without --print-assertion"),
    ],
)
def test_bad_replay_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    out = tmp_path / "run"
    _run(out, "--flaw", "alg_none_accepted", "--id", ALG_NONE)
    capsys.readouterr()
    assert cli.main(["replay", str(out / "results.json"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


@pytest.mark.slow
def test_replay_and_print_assertion_against_the_configured_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with configured_emulator(tmp_path, "ES256") as config:
        out = tmp_path / "run"
        assert _run(out, "--config", str(config), "--id", "time.exp.past_5min") == 0
        results = out / "results.json"
        recorded = json.loads(results.read_text())
        assert recorded["run"]["target"]["config"] == str(config)
        capsys.readouterr()
        assert cli.main(["replay", str(results), "time.exp.past_5min"]) == 0
        printed = capsys.readouterr().out
        assert "verdict: pass (was pass)" in printed
        assert "against dynamic-127.0.0.1-" in printed
        assert cli.main(["replay", str(results), "time.exp.past_5min", "--print-assertion"]) == 0
        printed, err = capsys.readouterr()
        header, claims, cut = printed.strip().split(".")
        assert json.loads(b64url_decode(header))["alg"] == "ES256"
        assert json.loads(b64url_decode(claims))["exp"] < json.loads(b64url_decode(claims))["iat"]
        assert cut.startswith("[signature cut: ") and "--assertion-file" in err
        whole = tmp_path / "a.jwt"
        argv = ["replay", str(results), "time.exp.past_5min", "--assertion-file", str(whole)]
        assert cli.main(argv) == 0
        printed, err = capsys.readouterr()
        token = whole.read_text().strip()
        assert stat.S_IMODE(whole.stat().st_mode) == 0o600
        assert token.split(".")[:2] == printed.strip().split(".")[:2]
        assert token.split(".")[2] and token.split(".")[2] not in printed + err
        assert str(whole) in err and "mode 0600" in err
        assert cli.main(argv) == 2  # never over an existing file
        assert "exists" in capsys.readouterr().err
        other = json.loads(results.read_text())
        other["run"]["target"]["environment_id"] = "00000000-0000-4000-8000-000000000000"
        (tmp_path / "other.json").write_text(json.dumps(other))
        assert cli.main(["replay", str(tmp_path / "other.json"), "time.exp.past_5min"]) == 2
        assert "but" in capsys.readouterr().err


def test_a_relative_configuration_not_found_here_says_where_it_was_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run records its --config as given (relative to where it started): replayed from
    another directory, the error says so instead of a bare 'does not exist'."""
    monkeypatch.chdir(tmp_path)
    target = {"config": "conformance.toml"}
    with pytest.raises(ConfigError, match="relative to the directory the run started in"):
        _config_path(target, None, Path("r/results.json"))
    (tmp_path / "conformance.toml").write_text("")
    assert _config_path(target, None, Path("r/results.json")) == Path("conformance.toml")
    pyproject = {"config": "pyproject.toml [tool.conformance]"}
    (tmp_path / "pyproject.toml").write_text("")
    assert _config_path(pyproject, None, Path("r.json")) == Path("pyproject.toml")
