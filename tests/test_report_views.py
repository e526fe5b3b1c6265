"""Fast checks of the report's building blocks (no kernel): text, views, figures, sanitiser."""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Any

import pytest
from factories import HOSTILE_BODY, make_results
from matplotlib.backends.backend_agg import FigureCanvasAgg

from conformance.catalog.weaknesses import WEAKNESSES
from conformance.findings import findings
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
    found = findings(data)
    page = "".join(
        [
            views.headline(data),
            views.summary(data, found),
            views.finding_cards(data, found),
            views.run_details(data),
            views.timing(data),
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


def test_finding_cards_are_ordered_most_severe_first() -> None:
    data = make_results(failures=3, critical=1)
    data["cases"].reverse()  # the grouping, not the input order, puts critical first
    html = views.finding_cards(data, findings(data))
    ids = re.findall(r'<details class="cr-variant" id="case-([^"]+)"', html)
    assert ids[0] == "envelope.case_0000"
    assert len(ids) == 4  # 3 failures and 1 warning: every failing case once


def test_views_do_not_break_on_missing_fields() -> None:
    data = {
        "schema": "exchange-conformance/results",
        "schema_version": 1,
        "run": {},
        "summary": {},
        "cases": [{"id": "x", "verdict": "fail"}],
    }
    assert "Unknown verdict None" in views.headline(data)
    # findings() reads validated results; a failing case no finding holds is still shown
    assert 'id="case-x"' in views.finding_cards(data, [])
    assert "<table" in views.run_details(data) and "No exchange" in views.timing(data)
    assert "No facts were measured" in views.facts(data)


def test_figures_are_small_pngs_even_with_hostile_labels() -> None:
    data = make_results(hostile=True)
    pictures = figures.all_figures(data, findings(data))
    assert [f.name for f in pictures] == ["findings", "matrix", "severity"]
    for figure in pictures:
        assert figure.png.startswith(b"\x89PNG\r\n\x1a\n")
        assert 2_000 < len(figure.png) < 200_000


def test_no_findings_picture_without_findings() -> None:
    clean = make_results(failures=0, critical=0, warns=0, errors=0)
    assert findings(clean) == []
    assert [f.name for f in figures.all_figures(clean, [])] == ["matrix", "severity"]


def _labels(by: str, data: dict[str, Any]) -> tuple[list[str], list[str], list[Any]]:
    """The legend's entries, the texts drawn on the axes, and their boxes on the canvas."""
    with figures.rc():
        fig = figures.verdict_bars(data, by)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        (ax,) = fig.axes
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        texts = [t for t in ax.texts if t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in texts]
        return legend, [t.get_text() for t in texts], boxes


def test_both_bar_charts_share_one_legend_order() -> None:
    data = make_results(n_cases=60, failures=4, critical=1, warns=3, skips=2, waived=1)
    by_category, _, _ = _labels("category", data)
    by_severity, _, _ = _labels("severity", data)
    assert by_category == by_severity == ["fail", "warn", "waived", "skip", "pass"]
    assert list(figures.STACK_ORDER) == ["fail", "error", "warn", "waived", "skip", "pass"]


def test_every_count_is_on_the_bars_and_none_overlap() -> None:
    # Small counts next to big ones: 1 fail, 1 warn, 1 skip against ~100 passes.
    data = make_results(n_cases=400, failures=3, critical=1, warns=2, skips=3, waived=1)
    for by in ("category", "severity"):
        _, texts, boxes = _labels(by, data)
        rows = data["summary"]["by_category" if by == "category" else "by_severity"]
        written = " ".join(texts)
        for counts in rows.values():
            for verdict, n in counts.items():
                if n:
                    # inside its segment ("97") or after the bar ("fail 1 · skip 1")
                    assert str(n) in written, (by, verdict, n)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert not a.overlaps(b), (by, texts)


def test_timing_table_has_percentiles_retries_and_waits() -> None:
    data = make_results(n_cases=7, failures=0, critical=0, warns=0, skips=0, waived=0)
    envelope = next(c for c in data["cases"] if c["category"] == "envelope")
    envelope["exchanges"] = [
        dict(envelope["exchanges"][0], latency_ms=float(v)) for v in (1, 2, 3, 4, 100)
    ]
    envelope["exchanges"][0]["retries"] = 2
    envelope["exchanges"][1].update(status=None, error="timeout")
    envelope["waited_ms"] = 2500.0
    page = views.timing(data)
    row = re.search(r"<tr><td>envelope</td>(.*?)</tr>", page)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    # cases, requests, retries, no answer, p50, p95, max (of the 4 answered), waits s
    assert cells == ["1", "5", "2", "1", "3.0", "100", "100", "2.5"]
    assert "<strong>all</strong>" in page


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


def _variants(data: dict[str, Any], n: int) -> None:
    """Make ``n`` failing cases of ``data`` variants of one weakness (alg none)."""
    failing = [c for c in data["cases"] if c["verdict"] == "fail"][:n]
    for i, case in enumerate(failing):
        case["id"] = f"algorithms.none.variant_{i}"
        case["category"] = "algorithms"
        case["rationale"] = "An endpoint that honours alg none accepts unsigned assertions."


def test_one_card_per_finding_with_its_variants_folded_in() -> None:
    data = make_results(n_cases=40, failures=4, critical=1, warns=0)
    _variants(data, 3)
    found = findings(data)
    alg_none = next(f for f in found if len(f.case_ids) == 3)
    page = views.finding_cards(data, found)
    cards = page.split('<div class="cr-case cr-finding"')[1:]
    assert len(cards) == len(found)
    card = next(c for c in cards if alg_none.title in c)
    assert card.count('<details class="cr-variant"') == 3
    # the shared rationale once, not once per variant
    assert card.count("honours alg none accepts unsigned") == 1
    assert views._prose(alg_none.remediation) in card and views._prose(alg_none.impact) in card
    for cwe in alg_none.cwe:
        number = cwe.removeprefix("CWE-")
        assert f'<a href="https://cwe.mitre.org/data/definitions/{number}.html">{cwe}</a>' in card
    for url in alg_none.references:
        assert f'<a href="{url}">' in card
    assert all(f"<code>{i}</code>" in card for i in alg_none.case_ids)


def test_the_summary_names_every_finding_with_its_impact() -> None:
    data = make_results(n_cases=40, failures=4, critical=1, warns=1, errors=1)
    found = findings(data)
    page = views.summary(data, found)
    assert f"Findings ({len(found)})" in page
    for finding in found:
        assert f'href="#finding-{finding.family}"' in page
        assert esc(finding.title) in page and views._prose(finding.impact, limit=400) in page
    assert "No finding" in views.summary(data, [])


def test_reference_links_are_http_only_and_escaped() -> None:
    assert views._link('https://x.example/a"b<c>') == (
        '<a href="https://x.example/a&quot;b&lt;c&gt;">https://x.example/a&quot;b&lt;c&gt;</a>'
    )
    assert views._link("javascript:alert(1)") == "javascript:alert(1)"
    assert views._link("RFC 7519 §4.1") == "RFC 7519 §4.1"


def test_the_catalogs_code_spans_render_as_code_not_backticks() -> None:
    """Impact and remediation are written with Markdown code spans (`exp`, `jku`): the
    report shows them as code, escaped, never as literal backticks."""
    assert views._prose("a `x<y>` b") == "a <code>x&lt;y&gt;</code> b"
    spans = [w for w in WEAKNESSES if "`" in w.impact + w.remediation]
    assert spans  # the catalog does use them
    for weakness in spans:
        assert "`" not in views._prose(weakness.impact) + views._prose(weakness.remediation)


def test_cited_identifiers_are_links_and_the_rest_stays_escaped_text() -> None:
    """A case's references ("RFC7519 §4.1.4", "PayloadsAllTheThings (CVE-2019-7644)")
    link their CVE, GHSA, CWE and RFC identifiers; drafts and prose stay text."""
    assert views._cited("RFC7519 §4.1.4") == (
        '<a href="https://www.rfc-editor.org/rfc/rfc7519#section-4.1.4">RFC7519 §4.1.4</a>'
    )
    assert views._cited("RFC 6749") == (
        '<a href="https://www.rfc-editor.org/rfc/rfc6749">RFC 6749</a>'
    )
    assert views._cited("x (CVE-2019-7644) <b>") == (
        'x (<a href="https://www.cve.org/CVERecord?id=CVE-2019-7644">CVE-2019-7644</a>) &lt;b&gt;'
    )
    assert 'href="https://github.com/advisories/GHSA-c8v6-786g-vjx6"' in views._cited(
        "json-jwt GHSA-c8v6-786g-vjx6"
    )
    assert 'href="https://cwe.mitre.org/data/definitions/79.html"' in views._cited("CWE-79")
    assert views._cited("RFC 8725bis §3.10") == "RFC 8725bis §3.10"
    assert views._cited("jwt_tool -X a") == "jwt_tool -X a"
    alg_none = next(w for w in WEAKNESSES if w.family == "alg.none")
    assert "RFC 8725 §3.1" in alg_none.spec  # the spec clauses link too
    data = make_results(failures=3)
    page = "".join(views.finding_cards(data, findings(data)))
    assert (
        '<a href="https://www.rfc-editor.org/rfc/rfc7519#section-4.1.4">RFC 7519 §4.1.4</a>' in page
    )
    found = dataclasses.replace(findings(data)[0], spec=("RFC 8725 §3.1", "a <b> clause"))
    card = views._card(found, [])
    specs = "".join(re.findall(r"Specification</dt><dd>(.*?)</dd>", card))
    assert specs == (
        '<a href="https://www.rfc-editor.org/rfc/rfc8725#section-3.1">RFC 8725 §3.1</a>; '
        "a &lt;b&gt; clause"
    )


@pytest.mark.parametrize(
    ("runner", "named", "not_named"),
    [
        ("cli", "--strict", "--conformance-strict"),
        ("pytest", "--conformance-strict", None),
    ],
)
def test_the_strict_option_is_named_as_the_run_was_started(
    runner: str, named: str, not_named: str | None
) -> None:
    data = make_results(warns=2)
    data["run"]["runner"] = runner
    data["run"]["strict"] = True
    page = views.attention(data) + views.run_details(data)
    summary = views.summary(data, findings(data))
    assert f"only in a strict run (<code>{named}</code>)" in summary
    assert f"<code>{named}</code>" in page and f"strict ({named})" in page
    if not_named:
        assert not_named not in page


def test_a_configured_target_shows_no_emulator_row() -> None:
    data = make_results()
    assert "Emulator flaws" in views.run_details(data)
    data["run"]["target"].update(embedded=False, flaws=[])
    assert "Emulator flaws" not in views.run_details(data)


# -- what a failing case costs: nothing shown twice (the report budget) ---------------------


def _failing_case(**changes: Any) -> dict[str, Any]:
    import random

    from factories import make_case

    case = make_case(1, verdict="fail", category="claims", severity="high", rng=random.Random(1))
    case.update(changes)
    return case


def _control(status: int) -> dict[str, Any]:
    from factories import make_exchange

    control = make_exchange(status=status, body='{"elevatedAccessToken": "[redacted: 40 chars]"}')
    control["label"] = "control"
    control["issued"] = {"opaque": "[redacted: 40 chars]"} if status == 200 else None
    return control


def test_an_accepted_control_is_one_line_and_a_refused_one_is_shown_whole() -> None:
    from factories import make_exchange

    attempt = make_exchange(status=401)
    accepted = views._evidence(_failing_case(exchanges=[attempt, _control(200)]))
    assert "#2 control · POST → 200" in accepted
    assert accepted.count("Assertion sent (decoded)") == 1  # the attempt's only
    assert "a valid assertion (ES256, kid trusted-es256), accepted with a token" in accepted
    refused = views._evidence(_failing_case(exchanges=[attempt, _control(401)]))
    assert refused.count("Assertion sent (decoded)") == 2
    assert refused.count('<div class="cr-sub">Response</div>') == 2


def test_the_reproduced_request_is_not_shown_twice() -> None:
    """The Reproduce line is the last attempt's request: its evidence says so instead of
    repeating it; a token that does not decode keeps its request shown."""
    from factories import make_exchange

    first, last = make_exchange(status=401), make_exchange(status=200)
    case = _failing_case(exchanges=[first, last, _control(200)])
    evidence = views._evidence(case)
    assert evidence.count('<div class="cr-sub">Request</div>') == 1  # the first attempt's
    assert evidence.count("Request: the Reproduce line") == 1
    raw = make_exchange(status=200)
    raw["assertion"] = {"raw_preview": "not.a.token"}
    assert "Request: the Reproduce" not in views._evidence(_failing_case(exchanges=[raw]))
    too_long = make_exchange(status=200)
    too_long["request_body"] = "x" * 601  # the curl line holds 600 characters of a body
    assert "Request: the Reproduce" not in views._evidence(_failing_case(exchanges=[too_long]))


def test_the_standard_reproduce_notes_are_named_and_spelled_out_once() -> None:
    from conformance._reproduce import notes

    spelled = notes("claims.case_0001")
    line = (
        "curl -sS -X POST 'http://127.0.0.1:1/x' --data \"$ASSERTION\"  # "
        f"{spelled['gone']}; {spelled['$ASSERTION']}; a note of its own"
    )
    shown = views._reproduce(_failing_case(id="claims.case_0001", reproduce=line))
    assert "# port gone: replay; $ASSERTION; a note of its own" in shown
    assert "--assertion-file" not in shown
    data = make_results(n_cases=10, failures=2)
    cards = views.finding_cards(data, findings(data))
    assert cards.count("How to fill in a Reproduce line") == 1
    assert "conformance replay RESULTS.json CASE_ID --assertion-file a.jwt" in cards


def test_pictures_are_small_palette_pngs_and_the_same_results_give_the_same_bytes() -> None:
    import io

    from PIL import Image

    data = make_results(n_cases=200, failures=5, critical=2)
    first = figures.all_figures(data, findings(data))
    again = figures.all_figures(data, findings(data))
    assert [f.png for f in first] == [f.png for f in again]
    for figure in first:
        with Image.open(io.BytesIO(figure.png)) as image:
            assert image.mode == "P"  # a palette: a third of the RGBA bytes
        assert len(figure.png) < 25_000


def test_run_details_name_a_declarative_profile_and_escape_it() -> None:
    data = make_results()
    assert "declarative profile" not in views.run_details(data)
    target = data["run"]["target"]
    target.update(profile_name="<acme>", profile_source="https://docs.acme.test/<x>")
    page = views.run_details(data)
    assert "from the declarative profile <b>&lt;acme&gt;</b>" in page
    assert "contract: https://docs.acme.test/&lt;x&gt;" in page


# -- a finding's cases after the first, shown against it ------------------------------------


def _finding_of(n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Results whose first ``n`` failures are variants of one weakness (alg none), each
    with its own jti, and that weakness's card's cases in the card's order."""
    data = make_results(n_cases=40, failures=4, critical=1, warns=0)
    _variants(data, n)
    members = [c for c in data["cases"] if c["id"].startswith("algorithms.none.variant_")]
    for i, case in enumerate(members):
        case["exchanges"][0]["assertion"]["claims"]["jti"] = f"jti-of-case-{i}"
    return data, members


def _card_of(data: dict[str, Any]) -> str:
    found = findings(data)
    alg_none = next(f for f in found if any("variant_" in i for i in f.case_ids))
    cases = {c["id"]: c for c in data["cases"]}
    return views._card(alg_none, [cases[i] for i in alg_none.case_ids])


def test_a_findings_later_cases_show_only_what_differs_from_the_first() -> None:
    data, members = _finding_of(3)
    card = _card_of(data)
    blocks = card.split('<details class="cr-variant"')[1:]
    assert len(blocks) == 3
    first, second = blocks[0], blocks[1]
    # the first case whole: its claims, its response
    assert "https://issuer.example" in first and "jti-of-case-0" in first
    assert '<div class="cr-sub">Response</div><pre>200' in first
    # the second: the jti that differs, nothing it shares
    assert "claims as in the first case but for:" in second
    assert "&quot;jti&quot;: &quot;jti-of-case-1&quot;" in second
    assert "https://issuer.example" not in second
    # the signature is cut: only its length is the same (the tokens' signatures differ)
    assert "header and signature length as in the first case" in second
    assert "signature as in" not in card
    assert "Response as in the first case</div>" in second
    assert "the same command as in the first case" in second
    # every case keeps its id, its anchor and its own message
    for case in members:
        assert f'id="case-{case["id"]}"' in card and f"<code>{case['id']}</code>" in card
    assert "jti-of-case-2" in blocks[2]


def test_a_part_that_differs_much_is_shown_whole_and_hostile_values_stay_escaped() -> None:
    data, members = _finding_of(2)
    claims = members[1]["exchanges"][0]["assertion"]["claims"]
    claims.update(sub="<script>alert(1)</script>", iss="x", aud="y", exp=1, iat=2, scope="z")
    members[1]["exchanges"][0]["response_body"] = HOSTILE_BODY
    members[1]["exchanges"][0]["response_headers"]["x-extra"] = "<b>"
    second = _card_of(data).split('<details class="cr-variant"')[2]
    assert '<div class="cr-small">claims:</div><pre>{' in second  # whole, labelled
    assert (
        "&quot;iss&quot;: &quot;x&quot;" in second and "&quot;scope&quot;: &quot;z&quot;" in second
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in second and "<script" not in second
    # another body: the response is shown with what differs, escaped
    assert "x-extra: &lt;b&gt;" in second and "<b>" not in second
    assert "&lt;style&gt;" in second and "<style" not in second


def test_the_usual_reproduce_line_is_spelled_out_once() -> None:
    data = make_results(n_cases=40, failures=5, critical=1, warns=0)
    page = views.finding_cards(data, findings(data))
    line = data["cases"][0]["reproduce"]
    shown = html.escape(line)
    assert page.count(shown) == 1  # in the section's head, not in each case
    assert page.count("the usual command (above)") == 5
    for case in (c for c in data["cases"] if c["verdict"] == "fail"):
        assert f"<code>{case.get('rerun') or case['nodeid']}</code>" in page


def test_the_case_table_colours_only_rows_that_did_not_pass() -> None:
    data = make_results(n_cases=20, failures=2, critical=1, warns=1, skips=1, waived=0)
    table = views.case_table(data)
    rows = re.findall(r"<tr[^>]*><td>.*?</tr>", table)
    assert len(rows) == 20
    passing = [r for r in rows if "<td>pass</td>" in r]
    assert passing and all(r.startswith("<tr><td>") for r in passing)
    failing = next(r for r in rows if "<td>fail</td>" in r)
    assert failing.startswith('<tr class="s-critical v-fail"><td><a href="#case-')
    assert '<tr class="s-' in next(r for r in rows if "<td>skip</td>" in r)


def test_a_cases_verdict_badge_shows_only_when_it_is_not_its_findings() -> None:
    data, members = _finding_of(2)
    members[1]["verdict"] = "warn"
    blocks = _card_of(data).split('<details class="cr-variant"')[1:]
    assert blocks[0].startswith(f' id="case-{members[0]["id"]}"><summary><code>')
    assert '<summary><span class="cr-badge cr-v-warn">warn</span> <code>' in blocks[1]


def test_an_exchange_is_compared_only_with_the_same_exchange_of_the_first_case() -> None:
    data, members = _finding_of(2)
    members[1]["exchanges"][0]["label"] = "negative"  # another step: nothing to compare
    second = _card_of(data).split('<details class="cr-variant"')[2]
    assert "as in the first case" not in second.split("Evidence:")[1]
    assert "https://issuer.example" in second
