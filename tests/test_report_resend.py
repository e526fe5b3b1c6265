"""Re-sending one case of a report (conformance/report/resend.py): the cell a reviewer
runs in the executed report notebook with ``SEND = True``."""

from __future__ import annotations

from typing import Any

import pytest
from factories import make_results

from conformance._exceptions import ConfigError
from conformance.findings import findings
from conformance.report.resend import default_case, resend


def _embedded(flaws: list[str]) -> dict[str, Any]:
    data = make_results(n_cases=5, failures=1, critical=1)
    data["run"]["target"].update(embedded=True, flaws=flaws)
    return data


def test_the_default_case_is_the_first_of_the_worst_finding() -> None:
    data = make_results(failures=3, critical=1)
    assert default_case(data) == findings(data)[0].case_ids[0] == "envelope.case_0000"
    clean = make_results(n_cases=3, failures=0, critical=0, warns=0, skips=0, waived=0)
    assert default_case(clean) == clean["cases"][0]["id"]


def test_wrong_requests_say_what_to_set() -> None:
    data = _embedded([])
    with pytest.raises(ConfigError, match="not in this version's catalog"):
        resend(data, "no.such.case")
    with pytest.raises(ConfigError, match="leave CONFIG = None"):
        resend(data, "time.exp.past_5min", config="target.toml")
    data["run"]["target"]["embedded"] = False
    with pytest.raises(ConfigError, match="set CONFIG to the path of its TOML file"):
        resend(data, "time.exp.past_5min")
    data["run"]["target"]["config"] = "nowhere/conformance.toml"
    with pytest.raises(ConfigError, match=r"nowhere/conformance\.toml"):
        resend(data, "time.exp.past_5min")  # the recorded configuration is used


@pytest.mark.slow
@pytest.mark.parametrize(("flaws", "verdict"), [(["exp_not_checked"], "fail"), ([], "pass")])
def test_a_case_is_sent_again_to_the_emulator_with_the_runs_flaws(
    flaws: list[str], verdict: str
) -> None:
    result = resend(_embedded(flaws), "time.exp.past_5min")
    assert result.case.id == "time.exp.past_5min"
    assert result.verdict == verdict
    assert result.exchanges and "<table>" in result._repr_html_()
