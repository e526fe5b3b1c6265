"""Fast checks of the report's building blocks (no kernel): text, views, figures, sanitiser."""

from __future__ import annotations

import re

import pytest
from factories import HOSTILE_BODY, make_results

from conformance.report import figures, views
from conformance.report._text import esc, plain, slug
from conformance.report.render import clean_html


def test_plain_truncates_with_a_note() -> None:
    assert plain("a" * 2500) == "a" * 2000 + "\n[truncated 500 chars]"
    assert plain("short") == "short"
    with pytest.raises(ValueError):
        plain("x", limit=0)


def test_plain_makes_controls_visible_and_fixes_surrogates() -> None:
    text = plain("\x1b[31mred\x1b[0m\x00\u202e ok\ttab\r\nnext \udc80")
    assert text == "\\x1b[31mred\\x1b[0m\\x00\\u202e ok\ttab\nnext \ufffd"
    text.encode("utf-8")  # a lone surrogate would make this raise


def test_plain_cuts_jws_signatures_that_slipped_through() -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0." + "s" * 86
    assert plain(f"Bearer {token}") == (
        "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.[signature cut: 86 chars]"
    )
    already_cut = "eyJhbGciOi….eyJzdWIi….[signature cut]"
    assert plain(already_cut) == already_cut


def test_esc_escapes_markup_and_quotes() -> None:
    assert esc('<img src=x onerror="a">') == "&lt;img src=x onerror=&quot;a&quot;&gt;"
    assert slug('a b<"c>') == "a-b-c"


def test_views_escape_every_hostile_value() -> None:
    data = make_results(hostile=True, errors=1)
    page = "".join(
        [
            views.headline(data),
            views.failures(data),
            views.attention(data),
            views.case_table(data),
            views.facts(data),
        ]
    )
    assert "<script" not in page
    assert "<img" not in page and "<style" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "[truncated " in page
    assert len(page) < 2_000_000


def test_verdict_line_reads_the_summary() -> None:
    assert views.verdict_line(make_results(failures=3, critical=1)) == (
        "Not conformant: 3 failures, of which 1 critical"
    )
    clean = make_results(failures=0, critical=0, warns=0, skips=0, waived=0)
    assert views.verdict_line(clean) == "Conformant: 0 failures"
    erred = make_results(failures=0, critical=0, errors=2)
    assert views.verdict_line(erred) == "Error: 0 failures; 2 errors"


def test_failures_are_ordered_most_severe_first() -> None:
    data = make_results(failures=3, critical=1)
    data["cases"].reverse()  # the view, not the input order, puts critical first
    html = views.failures(data)
    ids = re.findall(r'<div class="cr-case" id="case-([^"]+)"', html)
    assert ids[0] == "envelope.case_0000"
    assert len(ids) == 3


def test_views_do_not_break_on_missing_fields() -> None:
    data = {
        "schema": "exchange-conformance/results",
        "schema_version": 1,
        "run": {},
        "summary": {},
        "cases": [{"id": "x", "verdict": "fail"}],
    }
    assert "Unknown verdict None" in views.headline(data)
    assert 'id="case-x"' in views.failures(data)
    assert "No facts were measured" in views.facts(data)


def test_figures_are_small_pngs_even_with_hostile_labels() -> None:
    pictures = figures.all_figures(make_results(hostile=True))
    assert [f.name for f in pictures] == ["matrix", "severity", "latency"]
    for figure in pictures:
        assert figure.png.startswith(b"\x89PNG\r\n\x1a\n")
        assert 2_000 < len(figure.png) < 200_000


def test_latency_figure_is_absent_without_latencies() -> None:
    data = make_results()
    for case in data["cases"]:
        for exchange in case["exchanges"]:
            exchange["latency_ms"] = None
    assert figures.latency(data) is None


def test_sanitiser_removes_what_is_not_allowed() -> None:
    out = clean_html(
        '<details open><summary>s</summary><h2 id="a">t</h2></details>'
        "<script>alert(1)</script><img src=x onerror=alert(2)>"
        '<a href="javascript:alert(3)">j</a><a href="#ok">k</a>'
    )
    assert '<details open=""><summary>s</summary><h2 id="a">t</h2></details>' in out
    # script elements go with their content; images and their handlers go
    assert "<script" not in out and "alert(1)" not in out
    assert "<img" not in out and "onerror" not in out
    assert "javascript:" not in out and '<a href="#ok"' in out


def test_hostile_body_constant_is_hostile() -> None:
    # The fixtures above are only meaningful if the payload carries live markup.
    assert "<script>" in HOSTILE_BODY and "onerror=" in HOSTILE_BODY


def test_an_incomplete_run_never_reads_conformant() -> None:
    from conformance.report.views import headline, verdict_line

    data = make_results(n_cases=6, failures=0, critical=0)
    data["summary"]["verdict"] = "incomplete"
    data["summary"]["coverage"].update(
        complete=False, stopped="interrupted (KeyboardInterrupt)", selected=10, not_run=4
    )
    line = verdict_line(data)
    assert line.startswith("Incomplete: 4 of 10 selected cases did not run")
    page = headline(data)
    assert 'class="cr-verdict cr-verdict-incomplete"' in page
    assert "Stopped early: interrupted (KeyboardInterrupt)" in page


def test_a_gappy_run_says_which_critical_cases_did_not_run() -> None:
    from conformance.report.views import headline, verdict_line

    data = make_results(n_cases=6, failures=0, critical=0)
    data["summary"]["verdict"] = "conformant_with_gaps"
    data["summary"]["coverage"].update(
        critical=50, critical_unproved=42, gaps=["42 of 50 critical cases did not run"]
    )
    assert verdict_line(data) == (
        "Conformant with gaps: 0 failures; 42 of 50 critical cases did not run"
    )
    assert "Gap: 42 of 50 critical cases did not run" in headline(data)
