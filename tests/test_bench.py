"""The benchmark's pieces (conformance/bench.py), each with tiny sizes.

These check structure and behaviour, never timings: the machine is noisy and a figure
is the benchmark's output, not a test's verdict. The ``slow`` ones start a child
``conformance run``, the embedded emulator or a Jupyter kernel.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factories import make_exchange, make_results, write_results

from conformance import bench


def _phase(when: str, start: float, stop: float, worker: str = "main") -> dict[str, Any]:
    return {"when": when, "start": start, "stop": stop, "worker": worker}


def test_summarise_phases_finds_the_edges_of_case_execution() -> None:
    phases = [
        _phase("setup", 10.0, 10.5),
        _phase("call", 10.5, 10.6),
        _phase("teardown", 10.6, 10.61),
        _phase("setup", 10.4, 10.41, "gw1"),
        _phase("call", 10.41, 11.0, "gw1"),
        _phase("teardown", 11.0, 11.2, "gw1"),
    ]
    spans = bench.summarise_phases(phases)
    assert spans["first_setup_start"] == 10.0
    assert spans["first_call_start"] == 10.41
    assert spans["last_call_stop"] == 11.0
    assert spans["last_stop"] == 11.2
    assert spans["calls"] == 2
    assert spans["workers"] == 2


def test_summarise_phases_refuses_a_run_without_a_case() -> None:
    with pytest.raises(ValueError, match="no call phase"):
        bench.summarise_phases([_phase("setup", 1.0, 2.0)])


def test_import_breakdown_keeps_top_level_imports_slowest_first() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   _nested_one",
            "import time:       500 |       2500 | pytest",
            "import time:       300 |        300 |     deeper",
            "import time:        10 |       9000 | hypothesis",
            "something else entirely",
        ]
    )
    assert bench.import_breakdown(stderr) == [("hypothesis", 9.0), ("pytest", 2.5)]
    assert bench.import_breakdown(stderr, top=1) == [("hypothesis", 9.0)]


def _results_with(assertions: list[Any]) -> dict[str, Any]:
    exchanges = []
    for assertion in assertions:
        exchange = make_exchange()
        exchange["assertion"] = assertion
        exchanges.append(exchange)
    return {"cases": [{"exchanges": exchanges[:2]}, {"exchanges": exchanges[2:]}]}


def test_token_mix_has_one_token_per_exchange_and_falls_back_to_es256() -> None:
    claims = {"sub": "s", "jti": "j"}
    mix = bench.token_mix(
        _results_with(
            [
                {"header": {"alg": "ES384"}, "claims": claims},
                {"header": {"alg": "HS256"}, "claims": claims},
                {"header": {"alg": "none"}, "claims": claims},  # decodes, cannot be signed
                {"header": {"alg": ["ES256"]}, "claims": claims},
                {"raw_preview": "not.a.jwt"},  # did not decode
                None,  # no assertion at all
            ]
        )
    )
    assert [alg for alg, _ in mix] == ["ES384", "HS256", "ES256", "ES256", "ES256", "ES256"]
    assert mix[0][1] == claims
    assert mix[4][1] == bench.DEFAULT_CLAIMS
    assert mix[4][1] is not bench.DEFAULT_CLAIMS  # a copy: signing must not share state


def test_synthetic_results_scales_a_real_run_with_a_consistent_summary() -> None:
    real = make_results(n_cases=7, failures=0, critical=0, warns=0, skips=0, waived=0)
    doc = bench.synthetic_results(real, 45, fail_every=10)
    ids = [c["id"] for c in doc["cases"]]
    assert len(ids) == 45 == len(set(ids))
    counts = doc["summary"]["counts"]
    assert sum(counts.values()) == 45
    assert counts["fail"] + counts["warn"] == 4
    assert doc["summary"]["exchanges"] == sum(len(c["exchanges"]) for c in doc["cases"])
    assert real["cases"][0]["verdict"] == "pass"  # the source is not modified
    # a copy names itself, never the case it was copied from
    first = real["cases"][0]
    copy = next(c for c in doc["cases"] if c["id"] == f"{first['id']}.copy1")
    assert copy["nodeid"] == first["nodeid"].replace(first["id"], copy["id"])
    assert first["id"] in first["nodeid"] and f"[{first['id']}]" not in copy["nodeid"]


def test_synthetic_results_needs_cases() -> None:
    with pytest.raises(ValueError, match="no case"):
        bench.synthetic_results({"cases": [], "run": {}}, 10)


def _medians() -> dict[str, float]:
    m = {
        "floor.total_s": 2.0,
        "plan.exec_sum_s": 30.0,
        "plan.exec_minus_waits_s": 5.0,
        "plan.exec_span_s": 31.0,
        "plan.waited_s": 25.0,
        "plan_n2.exec_span_s": 15.5,
        "plan.wall_s": 33.0,
        "plan_n2.wall_s": 20.0,
        "plan.exchanges": 1000.0,
        "examples_40.examples": 80.0,
        "examples_160.examples": 320.0,
        "examples_40.exec_sum_s": 1.0,
        "examples_160.exec_sum_s": 2.2,
        "examples_40.wall_s": 3.0,
        "examples_160.wall_s": 4.2,
        "plan.startup_s": 1.7,
        "report.synthetic.cli_s": 2.5,
        "report.synthetic.warm_s": 1.5,
        "report.synthetic.html_mb": 1.0,
        "plan.peak_rss_mb": 150.0,
        "plan.wait_chain_s": 10.0,
    }
    m.update(bench.ratios(m, bench.FULL))
    return m


def test_ratios_and_targets() -> None:
    m = _medians()
    assert m["ratio.exec_minus_waits_over_floor"] == 2.5
    assert m["ratio.n2_speedup_exec"] == 2.0
    assert m["floor.per_exchange_ms"] == 2.0
    assert m["examples.extra"] == 240
    assert m["examples.exec_ms_per_extra"] == pytest.approx(5.0)
    assert m["ratio.span_over_bound"] == pytest.approx(3.1)  # 31 s over a 10 s chain
    rows = {r["metric"]: r for r in bench.evaluate(m)}
    assert set(rows) == {key for key, *_ in bench.TARGETS}
    assert not rows["ratio.exec_minus_waits_over_floor"]["met"]
    assert not rows["plan.startup_s"]["met"]
    assert rows["ratio.n2_speedup_exec"]["met"]
    assert rows["plan.peak_rss_mb"]["met"]


def test_a_missing_figure_is_a_target_not_met() -> None:
    rows = bench.evaluate({})
    assert all(not r["met"] and r["value"] is None for r in rows)


def test_table_shows_figures_targets_and_verdict_agreement() -> None:
    m = _medians()
    doc = {
        "machine": bench.machine(),
        "repeat": 3,
        "medians": m,
        "samples": {"plan.wall_s": {"median": 33.0, "min": 32.0, "max": 35.0, "n": 3}},
        "targets": bench.evaluate(m),
        "verdicts_identical": False,
        "verdict_differences": [("time.exp.past", "pass", "fail")],
        "imports_top_ms": [("hypothesis", 480.0)],
    }
    text = bench.table(doc)
    assert "32.000 s … 35.000 s" in text
    assert "NOT MET" in text and "met    " in text
    assert "DIFFERENT" in text and "time.exp.past: pass vs fail" in text
    assert "hypothesis" in text
    json.dumps(doc)  # the --json document is plain JSON


def test_machine_names_the_cpu_count_and_python() -> None:
    info = bench.machine()
    assert info["nproc"] >= 1
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))


def test_main_refuses_a_repeat_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--repeat", "0"])
    assert exc.value.code == 2
    assert "--repeat" in capsys.readouterr().err


def test_importing_the_module_imports_nothing_heavy() -> None:
    # It is loaded as a pytest plugin (-p conformance.bench) into every benchmarked run.
    code = (
        "import sys, conformance.bench; "
        "print(sorted(m for m in ('httpx', 'hypothesis', 'pytest', 'nbclient', 'cryptography')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_run_child_reports_its_own_exit_code_and_peak_memory() -> None:
    child = bench.run_child(
        [sys.executable, "-c", "import sys; b = bytearray(64 * 1024 * 1024); print('hi'); "
         "sys.exit(3)"]
    )  # fmt: skip
    assert child.code == 3
    assert child.stdout.strip() == "hi"
    assert child.peak_rss_mb >= 64
    assert child.wall_s > 0 and child.cpu_s >= 0


@pytest.mark.slow
def test_measure_floor_signs_and_posts_once_per_token() -> None:
    mix = [("ES256", dict(bench.DEFAULT_CLAIMS)), ("RS256", {"sub": "x"}), ("HS256", {})]
    floors = bench.measure_floor(mix, repeat=2)
    assert len(floors) == 2
    for floor in floors:
        assert floor.tokens == 3
        assert floor.algs == {"ES256": 1, "RS256": 1, "HS256": 1}
        assert floor.sign_s > 0 and floor.http_s > 0
        assert floor.total_s == floor.sign_s + floor.http_s


@pytest.mark.slow
def test_run_plan_splits_a_one_case_run(tmp_path: Path) -> None:
    run = bench.run_plan(("--id", bench.ONE_CASE), tmp_path)
    assert run.child.code == 0
    assert run.verdicts == {bench.ONE_CASE: "pass"}
    f = run.figures()
    assert f["cases"] == 1 and f["exchanges"] >= 1
    assert 0 < f["startup_to_first_setup_s"] <= f["startup_s"] < f["wall_s"]
    assert f["startup_s"] + f["exec_span_s"] + f["tail_s"] == pytest.approx(f["wall_s"])
    assert f["peak_rss_mb"] > 0


@pytest.mark.slow
def test_run_plan_raises_when_the_run_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited"):
        bench.run_plan(("--flaw", "no_such_flaw"), tmp_path)


@pytest.mark.slow
def test_measure_render_times_both_steps_and_sizes_the_page(tmp_path: Path) -> None:
    path = write_results(tmp_path / "in" / "results.json", make_results(n_cases=8))
    render = bench.measure_render(path, tmp_path / "out")
    assert (tmp_path / "out" / "cli" / "report.html").stat().st_size == render.html_bytes
    assert (tmp_path / "out" / "in-process" / "report.html").exists()
    assert render.cli_s > 0 and render.execute_s >= 0 and render.export_s > 0


def test_requests_count_a_shared_control_once_and_the_wait_chain_follows_the_lanes() -> None:
    cases = [
        {"id": "time.replay.after_exp", "waited_ms": 6000.0, "requests": 2.5, "exchanges": []},
        {"id": "claims.iss.missing", "waited_ms": 0.0, "requests": 1.5, "exchanges": []},
        {"id": "keys.rotation.new_kid", "waited_ms": 4000.0, "exchanges": [{}, {}, {}]},
        {"id": "keys.jwks.use_enc", "waited_ms": 3000.0, "requests": 3.5, "exchanges": []},
        {"id": "replay.race.concurrent_16", "waited_ms": 500.0, "requests": 16, "exchanges": []},
    ]
    assert [bench.case_requests(c) for c in cases] == [2.5, 1.5, 3.0, 3.5, 16.0]
    # the JWKS lane's 4 + 3 s in a row outlast the main lane's 6 s; then the lone case
    assert bench.wait_chain_s(cases) == pytest.approx(7.5)
    control = {
        "label": "control",
        "assertion": {"header": {"alg": "ES256"}, "claims": {"jti": "c"}},
    }
    results = {"cases": [{"exchanges": [{"label": "attempt"}, control]}, {"exchanges": [control]}]}
    assert len(bench.token_mix(results)) == 2


def test_the_wait_chain_counts_the_last_lane_and_a_remote_run_skips_the_bursts() -> None:
    cases = [
        {"id": "keys.jwks.use_enc", "waited_ms": 3000.0, "requests": 3.0, "exchanges": []},
        {"id": "errors.hygiene.every_refusal_json_error", "waited_ms": 250.0, "exchanges": [{}]},
        {"id": "replay.race.concurrent_16", "waited_ms": 0.0, "requests": 16, "exchanges": []},
    ]
    assert bench.wait_chain_s(cases) == pytest.approx(3.25)
    assert bench.remote_requests(cases) == pytest.approx(4.0)  # the race skips remotely
