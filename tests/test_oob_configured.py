"""A configured run against a separately started emulator, with the listener and the JWKS
host: every out-of-band and key-life-cycle case the embedded run runs runs here too, and
the new emulator flaws are caught through the configured path as well."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from configured_emulator import served_emulator
from factories import assert_valid_results

from conformance import cli
from conformance._keyring import ALGS
from conformance.catalog import CASES

pytestmark = pytest.mark.slow

#: The out-of-band and key-life-cycle cases: those needing the listener or the JWKS host.
OOB_IDS = sorted(c.id for c in CASES if c.needs & {"attacker_host", "jwks_host"})


def _run(home: Path, config: Path | None, ids: list[str], *extra: str) -> dict[str, Any]:
    out = home / ("configured" if config else "embedded")
    argv = ["run", "--no-report", "--report-dir", str(out), *extra]
    if config is not None:
        argv += ["--config", str(config)]
    for case_id in ids:
        argv += ["--id", case_id]
    cli.main(argv)
    return assert_valid_results(out / "results.json")


def _ran(data: dict[str, Any]) -> set[str]:
    return {c["id"] for c in data["cases"] if c["verdict"] != "skip"}


def test_configured_runs_every_case_the_embedded_run_runs(tmp_path: Path) -> None:
    embedded = _run(tmp_path, None, OOB_IDS)
    with served_emulator(tmp_path, ALGS) as config:
        configured = _run(tmp_path, config, OOB_IDS)
    assert len(OOB_IDS) >= 40
    assert _ran(embedded) == set(OOB_IDS)
    assert _ran(configured) == _ran(embedded)
    bad = [(c["id"], c["verdict"], c["message"][:200]) for c in configured["cases"]]
    assert [b for b in bad if b[1] != "pass"] == []
    facts = configured["facts"]
    assert facts["oob_listener"]["value"].startswith("http://127.0.0.1:")
    assert facts["jwks_host"]["value"].endswith("/jwks.json")
    assert isinstance(facts["revoked_key_refused_after_s"]["value"], float)


#: New flaws and a case each must fail through the configured path.
CAUGHT_BY = {
    "token_urls_fetched": "header.x5u.attacker_cert",
    "revoked_key_kept": "keys.revocation.after_cache_time",
    "jwks_fetch_per_kid": "keys.random_kid_flood",
}


def test_new_flaws_are_caught_against_a_configured_target(tmp_path: Path) -> None:
    with served_emulator(tmp_path, ("ES256",), flaws=tuple(CAUGHT_BY)) as config:
        data = _run(tmp_path, config, sorted(CAUGHT_BY.values()), "--strict")
    verdicts = {c["id"]: c for c in data["cases"]}
    for case_id in CAUGHT_BY.values():
        assert verdicts[case_id]["verdict"] == "fail", (case_id, verdicts[case_id]["message"])
    fetched = verdicts["header.x5u.attacker_cert"]["message"]
    assert "fetched the URL planted in the token 1 time(s): GET /attacker/" in fetched
    assert "/cert.pem" in fetched
    assert data["facts"]["revoked_key_refused_after_s"]["value"] == "still accepted"
