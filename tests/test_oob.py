"""Out-of-band checks against configured targets: ``[listener]`` and ``[jwks_host]``
settings, whether the target can reach the listener, the skip and the notice when it
cannot, and a request log that keeps no credential."""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path

import httpx
import pytest

from conformance import run_case
from conformance._config import load_run_config
from conformance._configured import open_configured, start_servers
from conformance._embedded import open_embedded
from conformance._exceptions import ConfigError
from conformance._http import client
from conformance._jwks_host import JwksHost
from conformance._keyring import Keyring, make_key, private_jwk
from conformance._oob import (
    DEFAULT_CACHE_S,
    LISTENER_FACT,
    UNREACHABLE,
    Bind,
    ListenerConfig,
    listener_lines,
    listener_plan,
    parse_bind,
)
from conformance.catalog import BY_ID, keys_lifecycle
from conformance.report.views import headline

ENV_ID = "0b6cf2d4-1c52-4d1f-9b57-4f1d2a3c4e5f"
TARGET = f"""
[target]
environment_id = "{ENV_ID}"
issuer = "https://auth.example.com"

[[target.keys]]
kid = "k1"
private_key = "env:CONF_TEST_KEY"
"""


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONF_TEST_KEY", json.dumps(private_jwk(make_key("ES256", kid="k1"))))


def load(tmp_path: Path, extra: str, target: str = TARGET) -> object:
    path = tmp_path / "c.toml"
    path.write_text(textwrap.dedent(target) + textwrap.dedent(extra))
    return load_run_config(path, cwd=tmp_path)


# -- configuration ---------------------------------------------------------------------


def test_listener_defaults_to_loopback_any_port(tmp_path: Path, key_env: None) -> None:
    config = load(tmp_path, "")
    assert config.listener == ListenerConfig(Bind("127.0.0.1", 0), None, True)  # type: ignore[attr-defined]
    assert config.jwks_host is None  # type: ignore[attr-defined]


def test_listener_and_jwks_host_sections(tmp_path: Path, key_env: None) -> None:
    config = load(
        tmp_path,
        """
        [listener]
        bind = "0.0.0.0:8800"
        public_url = "https://cb.example.net/"

        [jwks_host]
        bind = "127.0.0.1:8801"
        public_url = "https://keys.example.net"
        refetch_s = 2
        cache_s = 60
        """,
    )
    listener, host = config.listener, config.jwks_host  # type: ignore[attr-defined]
    assert (listener.bind, listener.public_url) == (Bind("0.0.0.0", 8800), "https://cb.example.net")
    assert (host.bind.port, host.public_url, host.refetch_s, host.cache_s) == (
        8801,
        "https://keys.example.net",
        2.0,
        60.0,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[listener]\nbind = "localhost"', "listener.bind must be 'host:port'"),
        ('[listener]\nbind = "0.0.0.0:9"', "all interfaces has no URL of its own"),
        ('[listener]\npublic_url = "ftp://x"', "listener.public_url must be an http(s) URL"),
        (
            '[listener]\npublic_url = "https://u:s3cret@cb.example.net"',
            "listener.public_url must not carry credentials",
        ),
        ("[listener]\nport = 1", "unknown key listener.port (allowed: bind, enabled, public_url)"),
        ('[jwks_host]\nbind = "127.0.0.1:0"', "jwks_host.bind needs a fixed port"),
        ("[jwks_host]\ncache_s = 1", "missing jwks_host.bind"),
        ('[jwks_host]\nbind = "127.0.0.1:1"\ncache_s = 7200', "jwks_host.cache_s must be at most"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, key_env: None, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, extra)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_parse_bind() -> None:
    assert parse_bind("[::1]:80") == Bind("::1", 80)
    with pytest.raises(ValueError, match="host:port"):
        parse_bind("127.0.0.1:99999")


# -- can the target reach the listener? ------------------------------------------------


def test_listener_plan() -> None:
    loopback = ListenerConfig()
    assert listener_plan(loopback, "http://127.0.0.1:9/api").start
    remote = listener_plan(loopback, "https://app.dynamicauth.com/api/v0")
    assert not remote.start
    assert "public_url" in remote.reason
    public = ListenerConfig(public_url="https://cb.example.net")
    assert listener_plan(public, "https://app.dynamicauth.com/api/v0").start
    assert not listener_plan(ListenerConfig(enabled=False), "http://127.0.0.1:9").start


def test_an_unreachable_listener_skips_the_cases_and_says_so(tmp_path: Path, key_env: None) -> None:
    """A remote target without a public URL: nothing is started, the out-of-band cases
    skip with the reason, and the fact drives the terminal line and the report notice."""
    config = load(tmp_path, "")
    with open_configured(config, check_reachable=False) as runtime:  # type: ignore[arg-type]
        assert runtime.listener is None
        assert "attacker_host" not in runtime.capabilities
        assert runtime.facts[LISTENER_FACT]["value"] == UNREACHABLE
        for case_id in ("header.jku.attacker_jwks", "claims.url.iss", "header.kid.attacker_url"):
            result = run_case(runtime, BY_ID[case_id])
            assert result.verdict == "skip"
            assert "not on loopback and no [listener] public_url is set" in result.message
            assert not result.exchanges  # nothing was sent
        facts = dict(runtime.facts)
    assert listener_lines(facts)[0].startswith("OUT-OF-BAND CHECKS DID NOT RUN")
    html = headline({"facts": facts})
    assert "Out-of-band checks did not run" in html
    # a reachable listener says nothing
    assert listener_lines({LISTENER_FACT: {"value": "http://127.0.0.1:1"}}) == []
    assert "Out-of-band" not in headline({"facts": {LISTENER_FACT: {"value": "x"}}})


def test_a_loopback_jwks_host_for_a_remote_target_is_refused(tmp_path: Path, key_env: None) -> None:
    config = load(tmp_path, '[jwks_host]\nbind = "127.0.0.1:8801"\n')
    opening = open_configured(config, check_reachable=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"set jwks_host.public_url"), opening:
        pass


def test_only_a_run_with_xdist_workers_refuses_a_fixed_port(tmp_path: Path, key_env: None) -> None:
    """The run says it is one xdist worker of several; the environment of the process
    does not (under `pytest -n` every run a test starts would inherit it)."""
    from conformance._serving import free_port

    config = load(tmp_path, f'[listener]\nbind = "127.0.0.1:{free_port()}"\n')
    servers = start_servers(config, Keyring(), "http://127.0.0.1:9/api/v0", xdist_worker=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"\[listener\] serves from one process"), servers:
        pass
    with start_servers(config, Keyring(), "http://127.0.0.1:9/api/v0") as started:  # type: ignore[arg-type]
        assert "attacker_host" in started.capabilities


def test_without_a_jwks_host_its_cases_say_how_to_get_one(tmp_path: Path, key_env: None) -> None:
    """A newcomer's run skips the key-life-cycle cases: the reason names the setting."""
    config = load(tmp_path, "")
    with start_servers(config, Keyring(), "http://127.0.0.1:9/api/v0") as servers:  # type: ignore[arg-type]
        assert "jwks_host" not in servers.capabilities
        assert "[jwks_host]" in servers.unavailable["jwks_host"]


@pytest.mark.parametrize("section", ["jwks_host", "listener"])
def test_a_bind_address_in_use_names_the_configuration_key(
    tmp_path: Path, key_env: None, section: str
) -> None:
    """A taken port is a configuration mistake: the one line names the key to change,
    not the emulator's --host/--port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = load(tmp_path, f'[{section}]\nbind = "127.0.0.1:{port}"\n')
        servers = start_servers(config, Keyring(), "http://127.0.0.1:9/api/v0")  # type: ignore[arg-type]
        with pytest.raises(ConfigError) as caught, servers:
            pass
    message = str(caught.value)
    assert f"cannot listen on 127.0.0.1:{port}" in message
    assert message.endswith(f"choose another {section}.bind in {tmp_path / 'c.toml'}")


# -- the request log keeps no credential ----------------------------------------------


@pytest.mark.slow
def test_request_log_is_redacted() -> None:
    bearer = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ"
    key = make_key("ES256", kid="leak")
    d = private_jwk(key)["d"]
    with JwksHost(Keyring(published_algs=("ES256",))) as host, client(timeout_s=5.0) as http:
        path = host.unique_path("/callback")
        http.get(
            host.url(path),
            params={"token": bearer},
            headers={
                "authorization": f"Bearer {bearer}",
                "cookie": f"session={d}",
                "x-forwarded-key": d,
            },
        )
        (record,) = host.requests(path)
    logged = repr(record) + record.describe()
    assert bearer not in logged
    assert "c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ" not in logged  # the signature segment
    assert d not in logged
    assert record.header("authorization") == "Bearer [redacted]"
    assert record.header("cookie") == "session=[redacted]"
    assert record.path == path


@pytest.mark.slow
def test_a_request_to_the_listener_cannot_make_the_run_redact_its_own_evidence() -> None:
    """Whoever reaches the listener chooses its headers: their credentials are redacted in
    that request's record only, never remembered as the run's secrets (a hostile target
    would blank any text of the report by sending it as a bearer or a cookie)."""
    from conformance._redact import scrub

    evidence = "accepted it: HTTP 200, issued a token"
    with JwksHost(Keyring(published_algs=("ES256",))) as host, client(timeout_s=5.0) as http:
        path = host.unique_path("/callback")
        http.get(
            host.url(path),
            params={"echo": "accepted it"},
            headers={"authorization": "Bearer accepted it", "cookie": "a=issued a token"},
        )
        (record,) = host.requests(path)
    assert scrub(evidence) == evidence
    assert record.header("authorization") == "Bearer [redacted]"
    assert record.header("cookie") == "a=[redacted]"
    assert "accepted it" not in record.describe()  # the same request's echo is cut


@pytest.mark.slow
def test_public_url_is_what_planted_urls_use() -> None:
    with JwksHost(public_url="https://cb.example.net/") as host:
        assert host.url("/x") == "https://cb.example.net/x"
        assert host.bound_url.startswith("http://127.0.0.1:")
        response = httpx.get(host.bound_url + host.unique_path("/attacker") + "/jwks.json")
        assert response.json()["keys"][0]["kid"].startswith("attacker-")


@pytest.mark.slow
def test_redirect_and_timeout_modes() -> None:
    with (
        JwksHost(Keyring(published_algs=("ES256",)), slow_s=0.1) as host,
        client(timeout_s=0.3) as http,
    ):
        host.redirect("/jwks.json", "http://127.0.0.1:9/elsewhere.json")
        moved = http.get(host.jwks_url)
        assert (moved.status_code, moved.headers["location"]) == (
            302,
            "http://127.0.0.1:9/elsewhere.json",
        )
        host.restore("/jwks.json")
        with host.failing("/jwks.json", "timeout"), pytest.raises(httpx.TimeoutException):
            http.get(host.jwks_url)
        assert http.get(host.jwks_url).status_code == 200  # restored: served again


def test_jwks_host_refuses_workers(
    tmp_path: Path, key_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance import cli

    path = tmp_path / "c.toml"
    path.write_text(textwrap.dedent(TARGET) + '[jwks_host]\nbind = "127.0.0.1:8801"\n')
    assert cli.main(["run", "--config", str(path), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "[jwks_host] serves from one process on a fixed port" in err
    assert len(err.strip().splitlines()) == 1


def test_an_undeclared_jwks_cache_time_is_not_taken_for_a_documented_one(
    tmp_path: Path, key_env: None
) -> None:
    """Without cache_s the host still serves max-age 300, but the target documented
    nothing: the revocation case must not judge it against our default."""
    config = load(tmp_path, '[jwks_host]\nbind = "127.0.0.1:8801"')
    host = config.jwks_host  # type: ignore[attr-defined]
    assert host.cache_s is None
    assert host.served_cache_s == DEFAULT_CACHE_S


def test_a_removed_key_kept_past_an_undeclared_cache_time_is_no_must_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """jose's createRemoteJWKSet keeps a JWKS 10 minutes, Nimbus 5: with no documented
    cache time, a key still accepted after our bound is a measurement (a skip with the
    fact), not a broken contract. With a declared time it fails (the flaw matrix)."""
    monkeypatch.setattr(keys_lifecycle, "DEFAULT_CACHE_S", 0.5)
    case = BY_ID["keys.revocation.after_cache_time"]
    # a policy variant: the embedded run declares no cache time (as a configured target
    # without [jwks_host] cache_s)
    with open_embedded(flaws=["revoked_key_kept"], variants=["leeway_5s"], algs=["ES256"]) as rt:
        assert rt.settings.jwks_cache_s is None
        result = run_case(rt, case)
    assert result.verdict == "skip", result.message
    assert "cache_s" in result.message
    assert rt.facts["revoked_key_refused_after_s"]["value"] == "still accepted"


@pytest.mark.slow
def test_a_flood_of_requests_bounds_the_log_and_proves_nothing_fetched_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whoever reaches the listener can send it any number of requests: the log keeps a
    bounded number; past it, 'nothing fetched this path' is no longer known (an error),
    while a fetch that was recorded still shows."""
    from conformance import _jwks_host

    monkeypatch.setattr(_jwks_host, "LOG_MAX", 3)
    with JwksHost(Keyring(published_algs=("ES256",))) as host, client(timeout_s=5.0) as http:
        seen = host.unique_path("/attacker")
        http.get(host.url(seen))
        for i in range(5):
            http.get(host.url(f"/flood/{i}"))
        assert len(host.requests()) == 3
        assert [r.path for r in host.requests(seen)] == [seen]
        with pytest.raises(RuntimeError, match="stopped recording"):
            host.requests(host.unique_path("/attacker"))
        with pytest.raises(RuntimeError, match="stopped recording"):
            host.fetch_count()
