from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from conformance._assertion import Assertion
from conformance._http import client
from conformance._keyring import load_signing_key
from conformance.cli import main


def _new(out: Path, *extra: str) -> int:
    return main(["keys", "new", "--out", str(out), *extra])


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_keys_new_writes_usable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], alg: str
) -> None:
    out = tmp_path / "keys"
    assert _new(out, "--alg", alg) == 0
    for name in ("private.pem", "private.jwk.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    jwks = json.loads((out / "jwks.json").read_text())
    (public,) = jwks["keys"]
    assert "d" not in public
    assert public["alg"] == alg

    from_jwk = load_signing_key(str(out / "private.jwk.json"))
    from_pem = load_signing_key(str(out / "private.pem"))
    assert from_jwk.kid == from_pem.kid == public["kid"]  # the default kid is the thumbprint
    # A PEM says RSA, not which RSA alg: inference picks RS256; the JWK keeps its alg.
    assert from_pem.alg == ("RS256" if alg.startswith("PS") else alg)
    assert from_jwk.alg == alg

    verifier = jwt.PyJWKSet.from_dict(jwks)[public["kid"]]
    token = Assertion(sub="u").expires_in(60).signed_with(from_jwk)
    assert jwt.decode(token, verifier, algorithms=[alg])["sub"] == "u"

    printed = capsys.readouterr().out
    assert str(out / "jwks.json") in printed
    assert "private_key" in printed
    secret = json.loads((out / "private.jwk.json").read_text())["d"]
    assert secret[:12] not in printed


def test_keys_new_with_kid(tmp_path: Path) -> None:
    assert _new(tmp_path, "--alg", "es384", "--kid", "my-key") == 0
    assert json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["kid"] == "my-key"
    assert load_signing_key(str(tmp_path / "private.jwk.json")).kid == "my-key"


def test_keys_new_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _new(tmp_path) == 0
    before = (tmp_path / "private.pem").read_bytes()
    assert _new(tmp_path) == 2
    err = capsys.readouterr().err
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "private.pem").read_bytes() == before
    (tmp_path / "private.pem").chmod(0o644)
    assert _new(tmp_path, "--force") == 0
    assert (tmp_path / "private.pem").read_bytes() != before
    assert stat.S_IMODE((tmp_path / "private.pem").stat().st_mode) == 0o600


def test_keys_new_unknown_alg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _new(tmp_path, "--alg", "HS256") == 2
    err = capsys.readouterr().err
    assert "ES256" in err
    assert "EdDSA" in err
    assert not (tmp_path / "private.pem").exists()


def test_jwks_serve_rejects_bad_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jwks", "serve", "--keys", str(tmp_path)]) == 2
    assert "keys new" in capsys.readouterr().err
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{"kty": "EC", "d": "secret"}]}))
    assert main(["jwks", "serve", "--keys", str(tmp_path)]) == 2
    assert "private" in capsys.readouterr().err


@pytest.mark.slow
def test_jwks_serve_until_interrupted(tmp_path: Path) -> None:
    assert _new(tmp_path) == 0
    expected = json.loads((tmp_path / "jwks.json").read_text())
    # PYTHONFAULTHANDLER: a server that does not stop is made to dump its threads (SIGABRT)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "jwks", "serve", "--keys", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving JWKS at http://127.0.0.1:"), line
        url = line.split()[3]
        with client(timeout_s=5.0) as c:
            assert c.get(url).json() == expected
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # once under -n 3 (2026-12-03): say where it hangs
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"jwks serve did not stop 20 s after SIGINT; its threads:\n{err[-6000:]}")
        assert code == 0, proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
