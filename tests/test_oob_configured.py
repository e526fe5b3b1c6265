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
from conformance.emulator import FLAWS

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


def test_configured_runs_every_case_the_embedded_run_runs(
    tmp_path: Path, clean_cli_run: dict[str, Any]
) -> None:
    # the embedded run: the out-of-band cases of the session's clean run of the plan
    assert_valid_results(Path(clean_cli_run["results_path"]))
    embedded = {"cases": [c for c in clean_cli_run["cases"] if c["id"] in OOB_IDS]}
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


#: The out-of-band and key-life-cycle flaws: each must be caught through the configured
#: path, by a case anchored on a row it breaks.
NEW_FLAWS = (
    "token_urls_fetched",
    "jwks_fail_open",
    "jwks_redirect_followed",
    "revoked_key_kept",
    "jwks_fetch_per_kid",
    "key_use_ignored",
    "jku_trusted",
)


@pytest.mark.parametrize("flaw", NEW_FLAWS)
def test_new_flaws_are_caught_against_a_configured_target(tmp_path: Path, flaw: str) -> None:
    rows = set(FLAWS[flaw].breaks)
    ids = sorted(c.id for c in CASES if rows & set(c.anchors) and c.id in OOB_IDS)
    with served_emulator(tmp_path, ("ES256", "ES384"), flaws=(flaw,)) as config:
        data = _run(tmp_path, config, ids, "--strict")
    failing = {c["id"]: c["message"] for c in data["cases"] if c["verdict"] == "fail"}
    assert failing, f"{flaw} went unnoticed by {ids}"
    if flaw == "token_urls_fetched":
        fetched = failing["header.x5u.attacker_cert"]
        assert "fetched the URL planted in the token 1 time(s): GET /attacker/" in fetched
        assert "/cert.pem" in fetched
    if flaw == "revoked_key_kept":
        assert data["facts"]["revoked_key_refused_after_s"]["value"] == "still accepted"
