"""The run configuration: a valid file per profile, and one precise line per mistake."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conformance._config import DYNAMIC_BASE_URL, load_run_config
from conformance._exceptions import ConfigError
from conformance._keyring import make_key, private_jwk

ENV_ID = "0b6cf2d4-1c52-4d1f-9b57-4f1d2a3c4e5f"
SESSION = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjb25mb3JtYW5jZS1hIn0.c2Vzc2lvbi1zaWduYXR1cmUtc2VjcmV0"


@pytest.fixture(scope="module")
def jwk_text() -> str:
    return json.dumps(private_jwk(make_key("ES256", kid="k1")))


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch, jwk_text: str) -> str:
    monkeypatch.setenv("CONF_TEST_KEY", jwk_text)
    return jwk_text


def write(tmp_path: Path, text: str, name: str = "conformance.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


DYNAMIC = f"""
[target]
profile = "dynamic"
environment_id = "{ENV_ID}"
issuer = "https://auth.example.com"

[[target.keys]]
kid = "k1"
private_key = "env:CONF_TEST_KEY"
"""

RFC7523 = """
[target]
profile = "rfc7523"
token_url = "https://idp.example.com/oauth2/token"
client_id = "my-client"

[[target.keys]]
private_key = "env:CONF_TEST_KEY"
"""


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_run_config(write(tmp_path, text), cwd=tmp_path)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# -- valid configurations ----------------------------------------------------------------


def test_dynamic_defaults(tmp_path: Path, key_env: str) -> None:
    config = load_run_config(write(tmp_path, DYNAMIC), cwd=tmp_path)
    assert config is not None
    s = config.settings
    assert (s.profile, s.base_url, s.environment_id) == ("dynamic", DYNAMIC_BASE_URL, ENV_ID)
    assert s.issuer == "https://auth.example.com"
    assert s.audience is None
    assert s.default_alg == "ES256"
    assert config.signing_key.kid == "k1"
    # what a real target can and cannot do
    assert {"sessions", "second_user"} <= s.capabilities
    assert not s.capabilities & {"jwks_host", "attacker_host", "second_environment", "bursts"}
    assert "sensitive_operation" not in s.capabilities  # no operation_path
    assert "audience" not in s.capabilities
    assert config.transport.rate_limit_per_s == 5.0
    assert config.rfc7523 is None


def test_dynamic_full(tmp_path: Path, key_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYN_SESSION_A", SESSION)
    (tmp_path / "ca.pem").write_text("placeholder")
    (tmp_path / "waivers.toml").write_text("")
    text = DYNAMIC.replace(
        "[[target.keys]]",
        """audience = "https://app.example.com"
scopes = ["wallet:export", "wallet:sign"]
known_scopes = ["wallet:export", "wallet:sign", "wallet:new"]
leeway_s = 60
max_token_lifetime_s = 300
session_tokens = { "conformance-a" = "env:DYN_SESSION_A" }
operation_path = "/wallets/operations/{scope}"

[[target.keys]]""",
    )
    text += """
[transport]
timeout_s = 5
retries = 1
rate_limit_per_s = 2.5
allow_bursts = true
ca_bundle = "ca.pem"

[report]
dir = "out"
waivers = "waivers.toml"
"""
    config = load_run_config(write(tmp_path, text), cwd=Path("/"))
    assert config is not None
    s = config.settings
    assert s.audience == "https://app.example.com"
    assert s.scopes == ("wallet:export", "wallet:sign")
    assert "wallet:new" in s.known_scopes
    assert (s.leeway_s, s.max_token_lifetime_s) == (60, 300)
    assert {"sensitive_operation", "audience"} <= s.capabilities
    assert config.session_tokens == {"conformance-a": SESSION}
    assert SESSION not in repr(config)  # secrets stay out of reprs
    assert config.transport.timeout_s == 5.0
    assert config.transport.retries == 1
    assert config.allow_bursts is True
    # relative paths are the file's directory's, not the working directory's
    assert config.ca_bundle == (tmp_path / "ca.pem").resolve()
    assert config.report_dir == (tmp_path / "out").resolve()
    assert config.waivers == (tmp_path / "waivers.toml").resolve()


def test_transport_ends_runs(tmp_path: Path, key_env: str) -> None:
    extra = "\n[transport]\nretry_budget_s = 30\nmax_unavailable = 0\nrun_deadline_s = 600\n"
    config = load_run_config(write(tmp_path, RFC7523 + extra), cwd=tmp_path)
    assert config is not None
    assert config.transport.retry_budget_s == 30.0
    assert config.transport.max_unavailable == 0  # the breaker off
    assert config.transport.run_deadline_s == 600.0
    defaults = load_run_config(write(tmp_path, RFC7523), cwd=tmp_path)
    assert defaults is not None
    assert defaults.transport.retry_budget_s == 180.0
    assert defaults.transport.max_unavailable == 10
    assert defaults.transport.run_deadline_s is None


def test_rfc7523_mapping(tmp_path: Path, key_env: str) -> None:
    config = load_run_config(
        write(tmp_path, RFC7523 + "\n[transport]\nretries = 0\n"), cwd=tmp_path
    )
    assert config is not None and config.rfc7523 is not None
    s = config.settings
    assert s.profile == "rfc7523"
    assert s.issuer == "my-client"
    assert s.subjects == ("my-client",)
    assert s.audience == "https://idp.example.com/oauth2/token"
    assert not s.capabilities & {"sessions", "second_user", "sensitive_operation"}
    assert "audience" in s.capabilities
    assert config.rfc7523.mode == "client_assertion"


def test_rfc7523_audience_issuer(tmp_path: Path, key_env: str) -> None:
    text = RFC7523.replace(
        'client_id = "my-client"',
        'client_id = "my-client"\nmode = "jwt_bearer"\naudience_kind = "issuer"\n'
        'audience = "https://idp.example.com"\nscope = "read"',
    )
    config = load_run_config(write(tmp_path, text), cwd=tmp_path)
    assert config is not None and config.rfc7523 is not None
    assert config.settings.audience == "https://idp.example.com"
    assert (config.rfc7523.mode, config.rfc7523.scope) == ("jwt_bearer", "read")


def test_key_file_relative_to_config(tmp_path: Path, jwk_text: str) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signing.jwk").write_text(jwk_text)
    text = DYNAMIC.replace('"env:CONF_TEST_KEY"', '"keys/signing.jwk"')
    config = load_run_config(write(tmp_path, text), cwd=Path("/"))
    assert config is not None and config.signing_key.kid == "k1"


def test_pyproject_table(tmp_path: Path, key_env: str) -> None:
    body = DYNAMIC.replace("[target]", "[tool.conformance.target]").replace(
        "[[target.keys]]", "[[tool.conformance.target.keys]]"
    )
    write(tmp_path, "[project]\nname = 'x'\n" + body, name="pyproject.toml")
    config = load_run_config(None, cwd=tmp_path)
    assert config is not None and config.settings.environment_id == ENV_ID
    assert "[tool.conformance]" in config.source


def test_no_config_means_embedded(tmp_path: Path) -> None:
    assert load_run_config(None, cwd=tmp_path) is None
    write(tmp_path, "[project]\nname = 'x'\n", name="pyproject.toml")
    assert load_run_config(None, cwd=tmp_path) is None


# -- one precise line per mistake --------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("[target]", "[target]\nfoo = 1"), "unknown key target.foo (allowed: "),
        (
            ("[target]", "[targte]\n[target]"),
            "unknown key targte (allowed: jwks_host, listener, report, target, transport)",
        ),
        (
            ('profile = "dynamic"', 'profile = "saml"'),
            "target.profile must be one of dynamic, rfc7523",
        ),
        (
            ('profile = "dynamic"', "profile = 3"),
            "target.profile must be a non-empty string, not an integer",
        ),
        ((f'environment_id = "{ENV_ID}"\n', ""), "missing target.environment_id"),
        (
            (f'environment_id = "{ENV_ID}"', 'environment_id = "env-1"'),
            "target.environment_id must be a 36-character UUID",
        ),
        (('issuer = "https://auth.example.com"\n', ""), "missing target.issuer"),
        (
            ("[target]", '[target]\ntoken_url = "https://x.example/t"'),
            "target.token_url is for profile rfc7523 only",
        ),
        (
            ("[target]", '[target]\nleeway_s = "30"'),
            "target.leeway_s must be an integer, not a string",
        ),
        (
            ("[target]", "[target]\nleeway_s = true"),
            "target.leeway_s must be an integer, not a boolean",
        ),
        (("[target]", "[target]\nleeway_s = -1"), "target.leeway_s must be between 0 and"),
        (
            ("[target]", '[target]\nscopes = "wallet:export"'),
            "target.scopes must be a non-empty array",
        ),
        (("[target]", "[target]\nscopes = []"), "target.scopes must be a non-empty array"),
        (
            ("[target]", '[target]\nbase_url = "http://dynamic.example.com/api"'),
            "target.base_url must use https",
        ),
        (("[target]", '[target]\nbase_url = "ftp://x"'), "target.base_url must be an http(s) URL"),
        (
            ("[target]", '[target]\nbase_url = ""'),
            "target.base_url must be a non-empty string, not an empty string",
        ),
        (
            # a credential pasted in the wrong key is not repeated
            ("[target]", '[target]\nbase_url = "sk_live_Xq3kZ9bT4mN8pQ2w"'),
            "target.base_url must be an http(s) URL like https://host/path (it has no scheme)",
        ),
        (
            # a password in a URL would be written whole into every report, HAR and SARIF
            ("[target]", '[target]\nbase_url = "https://ci:s3cret-pass@dynamic.example.com/api"'),
            "target.base_url must not carry credentials",
        ),
        (
            ("[target]", '[target]\noperation_path = "ops"'),
            "target.operation_path must start with /",
        ),
        (
            ("[target]", '[target]\noperation_path = "/wallets/{wallet_id}/export"'),
            "target.operation_path may hold only the placeholder {scope}",
        ),
        (
            ("[target]", '[target]\noperation_path = "/wallets/{scope"'),
            "target.operation_path may hold only the placeholder {scope}",
        ),
        (
            ("[target]", '[target]\nsession_tokens = { "mallory" = "env:X" }'),
            "target.session_tokens.mallory is not one of target.subjects",
        ),
        (
            (
                "[target]",
                '[target]\nsession_tokens = { "conformance-a" = "env:CONF_UNSET_SESSION" }',
            ),
            "refers to environment variable CONF_UNSET_SESSION, which is not set",
        ),
        (('kid = "k1"', 'kid = "k1"\npassword = "x"'), "unknown key target.keys[0].password"),
        (
            ('private_key = "env:CONF_TEST_KEY"', 'private_key = "env:CONF_UNSET_KEY"'),
            "CONF_UNSET_KEY",
        ),
        (
            ('private_key = "env:CONF_TEST_KEY"', 'private_key = "env:"'),
            "target.keys[0].private_key names no valid environment variable",
        ),
        (
            ('private_key = "env:CONF_TEST_KEY"', 'private_key = "missing.pem"'),
            "target.keys[0].private_key: key file",
        ),
        (('private_key = "env:CONF_TEST_KEY"\n', ""), "missing target.keys[0].private_key"),
        (('kid = "k1"', 'kid = "k1"\nalg = "RS256"'), "alg RS256 does not fit"),
        (("[[target.keys]]", "[[target.key]]"), "unknown key target.key (allowed: "),
        (
            ("[target]", "[transport]\nretries = 99\n[target]"),
            "transport.retries must be between 0 and 10",
        ),
        (
            ("[target]", "[transport]\ntimeout_s = 0\n[target]"),
            "transport.timeout_s must be greater than 0",
        ),
        (
            ("[target]", '[transport]\nallow_bursts = "yes"\n[target]'),
            "transport.allow_bursts must be true or false, not a string",
        ),
        (
            ("[target]", '[transport]\nca_bundle = "nope.pem"\n[target]'),
            "transport.ca_bundle names nope.pem, which is not a readable file",
        ),
        (
            ("[target]", "[transport]\nretry_budget_s = -1\n[target]"),
            "transport.retry_budget_s must be 0 or more, not -1",
        ),
        (
            ("[target]", "[transport]\nmax_retry_after_s = nan\n[target]"),
            "transport.max_retry_after_s must be 0 or more, not nan",
        ),
        (
            ("[target]", "[transport]\nrun_deadline_s = 0\n[target]"),
            "transport.run_deadline_s must be greater than 0",
        ),
        (
            ("[target]", "[transport]\nmax_unavailable = -2\n[target]"),
            "transport.max_unavailable must be between 0 and 10000",
        ),
        (
            ("[target]", "[transport]\nverify = false\n[target]"),
            "unknown key transport.verify (allowed: ",
        ),
        (
            ("[target]", '[report]\nwaivers = "nope.toml"\n[target]'),
            "report.waivers names nope.toml",
        ),
    ],
)
def test_error_names_the_key(
    tmp_path: Path, key_env: str, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in DYNAMIC
    message = error_of(tmp_path, DYNAMIC.replace(old, new, 1))
    assert expected in message
    assert "conformance.toml" in message  # the file is named too
    assert "s3cret" not in message and "sk_live" not in message  # never echoed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('token_url = "https://idp.example.com/oauth2/token"\n', ""), "missing target.token_url"),
        (('client_id = "my-client"\n', ""), "missing target.client_id"),
        (
            ('client_id = "my-client"', 'client_id = "my-client"\nmode = "saml"'),
            "target.mode must be one of client_assertion, jwt_bearer",
        ),
        (
            ('client_id = "my-client"', 'client_id = "my-client"\naudience_kind = "issuer"'),
            "missing target.audience",
        ),
        (
            ('client_id = "my-client"', 'client_id = "my-client"\naudience = "https://idp"'),
            "target.audience is used only with audience_kind",
        ),
        (
            ('client_id = "my-client"', f'client_id = "my-client"\nenvironment_id = "{ENV_ID}"'),
            "target.environment_id is for profile dynamic only",
        ),
        (
            ('client_id = "my-client"', 'client_id = "my-client"\nsession_tokens = {}'),
            "target.session_tokens is for profile dynamic only",
        ),
        (
            ('client_id = "my-client"', 'client_id = "my-client"\nissuer = "other"'),
            "target.issuer must equal client_id",
        ),
    ],
)
def test_rfc7523_errors(
    tmp_path: Path, key_env: str, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in RFC7523
    assert expected in error_of(tmp_path, RFC7523.replace(old, new, 1))


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (
            "-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\\n",
            "a PEM key",
        ),
        ('{\\"kty\\": \\"EC\\", \\"d\\": \\"c2VjcmV0LWQtdmFsdWU\\"}', "a JWK"),
        (SESSION, "a JWT"),
    ],
)
def test_literal_secret_is_refused_and_not_echoed(
    tmp_path: Path, key_env: str, monkeypatch: pytest.MonkeyPatch, value: str, what: str
) -> None:
    monkeypatch.setenv("DYN_SESSION_A", SESSION)
    key_text = DYNAMIC.replace('"env:CONF_TEST_KEY"', f'"{value}"')
    message = error_of(tmp_path, key_text)
    assert f"target.keys[0].private_key holds {what}" in message
    assert "env:NAME" in message
    for fragment in ("MIGHAgEA", "c2VjcmV0LWQtdmFsdWU", "c2Vzc2lvbi1zaWduYXR1cmU"):
        assert fragment not in message
    token_text = DYNAMIC.replace(
        "[[target.keys]]", f'session_tokens = {{ "conformance-a" = "{value}" }}\n[[target.keys]]'
    )
    message = error_of(tmp_path, token_text)
    assert f"target.session_tokens.conformance-a holds {what}" in message
    assert "c2Vzc2lvbi1zaWduYXR1cmU" not in message


def test_unreadable_key_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not a key at all")
    text = DYNAMIC.replace('"env:CONF_TEST_KEY"', '"key.pem"')
    message = error_of(tmp_path, text)
    assert "target.keys[0].private_key" in message
    assert "key.pem" in message
    assert "not a key at all" not in message


def test_wrong_key_material_is_not_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_ish = "c2VjcmV0LW1hdGVyaWFsLXRoYXQtbXVzdC1ub3QtbGVhaw"
    monkeypatch.setenv("CONF_TEST_KEY", json.dumps({"kty": "oct", "k": secret_ish}))
    message = error_of(tmp_path, DYNAMIC)
    assert "target.keys[0].private_key" in message
    assert secret_ish not in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    assert "is not valid TOML" in error_of(tmp_path, "[target\nprofile = 1")
    with pytest.raises(ConfigError, match="does not exist"):
        load_run_config(tmp_path / "absent.toml", cwd=tmp_path)


def test_missing_target_table(tmp_path: Path) -> None:
    assert "missing [target] table" in error_of(tmp_path, "[transport]\nretries = 1\n")


def test_duplicate_kid(tmp_path: Path, key_env: str) -> None:
    text = DYNAMIC + '\n[[target.keys]]\nkid = "k1"\nprivate_key = "env:CONF_TEST_KEY"\n'
    assert "target.keys[1].kid repeats kid 'k1'" in error_of(tmp_path, text)


@pytest.mark.slow
def test_cli_run_exits_2_with_the_key(
    tmp_path: Path, key_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import conformance.cli

    path = write(tmp_path, DYNAMIC.replace("[target]", "[target]\nfoo = 1"))
    code = conformance.cli.main(["run", "--config", str(path), "--no-report"])
    captured = capsys.readouterr()
    assert code == 2
    assert "unknown key target.foo" in captured.out + captured.err


# -- the shipped examples parse ----------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_example_dynamic_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = make_key("ES256", kid="conformance-es256")
    monkeypatch.setenv("CONFORMANCE_SIGNING_KEY", json.dumps(private_jwk(key)))
    text = (EXAMPLES / "dynamic-sandbox.toml").read_text()
    (tmp_path / "waivers.toml").write_text((EXAMPLES / "waivers.toml").read_text())
    config = load_run_config(write(tmp_path, text, name="dynamic-sandbox.toml"), cwd=tmp_path)
    assert config is not None and config.profile == "dynamic"
    assert config.signing_key.kid == "conformance-es256"
    assert config.waivers == (tmp_path / "waivers.toml").resolve()


def test_example_rfc7523(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = make_key("ES256")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "private.pem").write_bytes(
        key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    text = (EXAMPLES / "rfc7523.toml").read_text()
    config = load_run_config(write(tmp_path, text, name="rfc7523.toml"), cwd=tmp_path)
    assert config is not None and config.rfc7523 is not None
    assert config.signing_key.kid == "my-client-key-1"
    assert config.settings.audience == "https://idp.example.com/oauth2/token"


def test_example_waivers() -> None:
    from conformance._waivers import load_waivers

    assert len(load_waivers(EXAMPLES / "waivers.toml")) == 2
