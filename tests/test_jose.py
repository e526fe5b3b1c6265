"""The JOSE core: base64url, compact assembly, signing input, SigningKey; and the forge's
public surface built on it. Fast: no servers."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import inspect

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import conformance
from conformance import _jose, forge
from conformance._keyring import make_key
from conformance.emulator import _b64 as emulator_b64


# No deadline and no too_slow health check: Hypothesis' defaults (outside our CI profile)
# fail an example, or the generation, that a loaded machine happens to pause.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_b64url_round_trips_unpadded_and_agrees_with_the_emulator(data: bytes) -> None:
    text = _jose.b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert _jose.b64url_decode(text) == data
    # Two implementations on purpose (the emulator shares no code with the writer): they
    # must still agree on every input.
    assert emulator_b64.b64url_encode(data) == text
    assert emulator_b64.b64url_decode(text) == data


def test_b64url_decode_accepts_padding() -> None:
    assert _jose.b64url_decode("YQ==") == _jose.b64url_decode("YQ") == b"a"


def test_encode_json_is_compact_utf8_and_keeps_key_order() -> None:
    assert _jose.encode_json({"b": 1, "a": "é"}) == '{"b":1,"a":"é"}'.encode()


def test_signing_input_is_what_was_signed() -> None:
    secret = b"k" * 32
    token = _jose.compact({"alg": "HS256"}, {"sub": "a"}, key=secret)
    head, body, _ = token.split(".")
    assert _jose.signing_input(token) == f"{head}.{body}".encode("ascii")
    expected = hmac.new(secret, _jose.signing_input(token), hashlib.sha256).digest()
    assert _jose.split(token)[2] == expected


def test_compact_signs_with_a_signing_key_and_pyjwt_agrees() -> None:
    key = make_key("ES256", kid="k1")
    token = _jose.compact({"alg": "ES256", "kid": "k1"}, {"sub": "a"}, key=key)
    assert jwt.decode(token, key.public_key, algorithms=["ES256"]) == {"sub": "a"}


def test_compact_without_any_alg_raises() -> None:
    with pytest.raises(ValueError, match="no alg"):
        _jose.compact({}, {}, key=b"secret")


def test_sign_refuses_a_key_of_another_family() -> None:
    with pytest.raises(TypeError, match="RS"):
        _jose.sign(b"x", make_key("ES256"), "RS256")
    with pytest.raises(ValueError, match="cannot sign"):
        _jose.sign(b"x", b"secret", "none")


def test_signing_key_is_a_frozen_value_that_hides_its_secret() -> None:
    key = make_key("HS256", kid="h")
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.kid = "other"  # type: ignore[misc]
    assert not hasattr(key, "__dict__")  # slotted
    assert key.public_key == key.private_key
    assert repr(key.private_key) not in repr(key)
    assert conformance.SigningKey is _jose.SigningKey


def test_forge_all_is_sorted_public_and_resolves() -> None:
    names = forge.__all__
    assert len(names) == len(set(names))
    assert not [n for n in names if n.startswith("_")]
    for name in names:
        assert getattr(forge, name) is not None, name
    # Every public function defined in the forge is exported.
    defined = {
        name
        for name, value in vars(forge).items()
        if inspect.isfunction(value) and value.__module__ == forge.__name__
    }
    assert {n for n in defined if not n.startswith("_")} <= set(names)


@pytest.mark.parametrize("name", ["compact", "split", "b64url_encode", "b64url_decode", "sign"])
def test_forge_re_exports_the_core(name: str) -> None:
    assert name in forge.__all__
    assert getattr(forge, name) is getattr(_jose, name)
