"""The report's sections as HTML strings, built from a results document.

The notebook calls one function per section and displays the string. Each function reads
what results.json holds and lays it out; none of them judges, counts or infers anything
the results do not say. Every value from the results goes through :func:`esc` (bounded,
control characters made visible, HTML-escaped): bodies may hold markup, ANSI escapes or
megabytes of text. The markup uses only the tags our HTML sanitiser allows (see
``render.ALLOWED_TAGS``): no ``style`` attributes, no images, no scripts.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._reproduce import CURL_BODY_LIMIT, NOT_REPRODUCED
from .._reproduce import notes as reproduce_notes
from .._waivers import waiver_notes
from . import _same
from ._text import BODY_LIMIT, SHORT_LIMIT, esc, plain, slug
from ._vocab import VERDICT_ORDER, categories, severity_rank
from .diff import ResultsDiff

if TYPE_CHECKING:
    from ..findings import Finding

__all__ = [
    "attention",
    "case_table",
    "changes",
    "facts",
    "finding_cards",
    "heading",
    "headline",
    "run_details",
    "strict_option",
    "summary",
    "timing",
    "verdict_line",
    "waiver_review",
]

_VERDICT_WORDS = {
    "conformant": "Conformant",
    "conformant_with_gaps": "Conformant with gaps",
    "not_conformant": "Not conformant",
    "error": "Error",
    "incomplete": "Incomplete",
}


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    # The results are data from disk: a missing or mistyped field shows as blank, it
    # never breaks the whole report.
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def badge(kind: str, value: Any) -> str:
    """A small coloured label; ``kind`` is ``v`` (verdict), ``s`` (severity) or ``l``."""
    return f'<span class="cr-badge cr-{kind}-{slug(value)}">{esc(value, limit=40)}</span>'


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def verdict_line(results: Mapping[str, Any]) -> str:
    """The one-line verdict as plain text, e.g. ``Not conformant: 3 failures, of which 1
    critical``. Built from ``summary.verdict``, ``counts`` and ``critical_failures``."""
    summary = _get(results, "summary", {})
    verdict = _get(summary, "verdict")
    counts = _get(summary, "counts", {})
    fails = _int(_get(counts, "fail"))
    errors = _int(_get(counts, "error"))
    critical = _int(_get(summary, "critical_failures"))
    word = _VERDICT_WORDS.get(verdict, f"Unknown verdict {verdict!r}")
    parts = [_plural(fails, "failure") + (f", of which {critical} critical" if critical else "")]
    if errors:
        parts.append(_plural(errors, "error"))
    coverage = _get(summary, "coverage")
    if isinstance(coverage, Mapping):
        selected, not_run = _int(_get(coverage, "selected")), _int(_get(coverage, "not_run"))
        if verdict == "incomplete" or not_run:
            parts.insert(0, f"{not_run} of {selected} selected cases did not run")
        unproved = _int(_get(coverage, "critical_unproved"))
        if unproved:
            critical = _int(_get(coverage, "critical"))
            parts.append(f"{unproved} of {critical} critical cases did not run")
    return f"{word}: {'; '.join(parts)}"


def strict_option(results: Mapping[str, Any]) -> str:
    """The option that makes a failed ``should`` case fail the run, as the person who ran
    this one types it: ``--strict`` for ``conformance run``, ``--conformance-strict`` for
    pytest (``run.runner``); both when the results do not say."""
    runner = _get(_get(results, "run", {}), "runner")
    if runner == "cli":
        return "--strict"
    if runner == "pytest":
        return "--conformance-strict"
    return "--strict with conformance run, --conformance-strict with pytest"


def _coverage_cell(coverage: Any) -> str:
    if not isinstance(coverage, Mapping):
        return "not recorded (results of schema version 1)"
    skipped = ", ".join(
        f"{esc(n)} {esc(s)}"
        for s, n in (_get(coverage, "skipped_by_severity", {}) or {}).items()
        if _int(n)
    )
    return (
        f"{esc(_get(coverage, 'ran'))} ran, {esc(_get(coverage, 'skipped'))} skipped"
        + (f" ({skipped})" if skipped else "")
        + f", {esc(_get(coverage, 'not_run'))} not run — of {esc(_get(coverage, 'selected'))}"
        f" selected; {esc(_get(coverage, 'catalog'))} in the catalog of this profile"
    )


def _declared_profile(target: Any) -> str:
    """A declarative profile's name and source (docs/profiles.md), after its base."""
    name = _get(target, "profile_name")
    if not name:
        return ""
    return (
        f" semantics, from the declarative profile <b>{esc(name)}</b>"
        f" (contract: {esc(_get(target, 'profile_source'))})"
    )


def _selection_cell(selection: Any) -> str:
    if not isinstance(selection, Mapping):
        return "not recorded"
    parts = [
        f"{name} {', '.join(str(v) for v in _list(_get(selection, key)))}"
        for name, key in (("categories", "categories"), ("ids", "ids"), ("modules", "cases"))
        if _list(_get(selection, key))
    ]
    if _get(selection, "level"):
        parts.append(f"level {_get(selection, 'level')}")
    if _int(_get(selection, "deselected")):
        parts.append(f"{_get(selection, 'deselected')} left out by pytest -k/-m")
    return esc("; ".join(parts) or "the whole catalog")


def _coverage_notes(coverage: Any) -> str:
    """Under the banner: why the run stopped, and the gaps (nothing for a full run)."""
    if not isinstance(coverage, Mapping):
        return ""
    notes = []
    if _get(coverage, "stopped"):
        notes.append(
            f"Stopped early: {esc(_get(coverage, 'stopped'), limit=300)}. The cases that did "
            "not run prove nothing either way."
        )
    notes += [f"Gap: {esc(g, limit=300)}" for g in _list(_get(coverage, "gaps"))]
    if not notes:
        return ""
    return (
        '<ul class="cr-gaps" id="coverage-notes">'
        + "".join(f"<li>{n}</li>" for n in notes)
        + "</ul>"
    )


def _not_covered(results: Mapping[str, Any]) -> str:
    """What the run did not cover and why: the skipped cases grouped by their reason."""
    skips = [c for c in _list(_get(results, "cases")) if _get(c, "verdict") == "skip"]
    if not skips:
        return ""
    reasons = Counter(plain(_get(c, "message") or "no reason recorded", limit=200) for c in skips)
    items = "".join(f"<li>{n} × {html.escape(reason)}</li>" for reason, n in reasons.most_common(6))
    more = len(reasons) - 6
    if more > 0:
        items += f'<li><a href="#attention">{_plural(more, "other reason")}</a></li>'
    return (
        f'<div class="cr-small" id="not-covered">Not covered: {_plural(len(skips), "case")} '
        f'skipped</div><ul class="cr-gaps">{items}</ul>'
    )


def _listener_note(results: Mapping[str, Any]) -> str:
    """Under the banner: the out-of-band cases did not run (the ``oob_listener`` fact,
    ``conformance._oob``), because nothing the target could reach was listening."""
    fact = _get(_get(results, "facts", {}), "oob_listener", {})
    if not isinstance(fact, Mapping) or _get(fact, "value") != "unreachable":
        return ""
    return (
        '<ul class="cr-gaps" id="oob-listener"><li>Out-of-band checks did not run: '
        f"{esc(_get(fact, 'detail'), limit=400)}. A target that fetches URLs from tokens "
        "(jku, x5u, kid, claims) would not have been noticed; see "
        "docs/configuration.md#listener.</li></ul>"
    )


def headline(results: Mapping[str, Any]) -> str:
    """Section 1, the top of the executive summary: the verdict line with its coverage
    (what ran, what was skipped and why, why a run stopped early, the gaps)."""
    summary = _get(results, "summary", {})
    verdict = _get(summary, "verdict", "unknown")
    coverage = _get(summary, "coverage")
    return (
        f'<div class="cr-head"><h1>Exchange conformance report</h1>'
        f'<div class="cr-verdict cr-verdict-{slug(verdict)}" id="verdict">'
        f"{esc(verdict_line(results))}</div>"
        f'<div class="cr-small">Coverage: {_coverage_cell(coverage)}</div>'
        f"{_coverage_notes(coverage)}{_not_covered(results)}{_listener_note(results)}</div>"
    )


def _finding_anchor(finding: Finding) -> str:
    return f"finding-{slug(finding.family)}"


def summary(results: Mapping[str, Any], found: Sequence[Finding]) -> str:
    """Section 1, the executive summary's findings: one line each, most severe first
    (severity, level, title, how many cases, the impact in one line)."""
    if not found:
        note = (
            "No finding: no case failed, warned or erred."
            if _get(_get(results, "summary", {}), "verdict") in ("conformant",)
            else "No finding among the cases that ran."
        )
        return _section("Findings", f'<p class="cr-ok">{note}</p>', anchor="summary")
    by_severity = Counter(str(f.severity) for f in found)
    tally = " ".join(
        f"{badge('s', s)}&nbsp;{n}"
        for s, n in sorted(by_severity.items(), key=lambda kv: severity_rank(kv[0]))
    )
    rows = [
        [
            f"{badge('s', f.severity)} {badge('l', f.level)}",
            f'<a href="#{_finding_anchor(f)}">{esc(f.title)}</a>',
            badge("v", f.verdict),
            esc(len(f.case_ids)),
            _prose(f.impact, limit=400),
        ]
        for f in found
    ]
    notes = ""
    if any(f.verdict == "warn" for f in found):
        notes = (
            '<p class="cr-small"><em>warn</em>: failed <em>should</em> cases (hardening); '
            "they fail the run only in a strict run "
            f"(<code>{esc(strict_option(results))}</code>).</p>"
        )
    return _section(
        f"Findings ({len(found)})",
        f"<p>{tally}</p>{notes}"
        + _table(
            ["Severity", "Finding", "Verdict", "Cases", "Impact"], rows, cls="cr-table cr-findings"
        ),
        anchor="summary",
    )


def run_details(results: Mapping[str, Any]) -> str:
    """The target and the run's facts (when, how long, versions, seed, selection,
    coverage, counts), below the executive summary."""
    run = _get(results, "run", {})
    summary = _get(results, "summary", {})
    target = _get(run, "target", {})
    counts = _get(summary, "counts", {})
    count_badges = " ".join(
        f"{badge('v', v)}&nbsp;{esc(_get(counts, v, 0))}" for v in VERDICT_ORDER if v in counts
    )
    flaws = ", ".join(str(f) for f in _list(_get(target, "flaws"))) or "none"
    embedded = _get(target, "embedded") is True
    rows = [
        ("Target", f"<code>{esc(_get(target, 'base_url'))}</code>"),
        (
            "Profile",
            f"{esc(_get(target, 'profile'))}"
            + (" (embedded emulator)" if _get(target, "embedded") is True else "")
            + _declared_profile(target),
        ),
        ("Environment", esc(_get(target, "environment_id"))),
        ("Issuer", esc(_get(target, "issuer"))),
        ("Audience", esc(_get(target, "audience") or "none")),
        # A configured target has no emulator: no "flaws: none" row that suggests one.
        *([("Emulator flaws", esc(flaws))] if embedded else []),
        (
            "When",
            f"{esc(_get(run, 'started_at'))} → {esc(_get(run, 'finished_at'))}"
            f" ({esc(_get(run, 'duration_s'))} s)",
        ),
        (
            "Versions",
            f"suite {esc(_get(run, 'suite_version'))}, catalog {esc(_get(run, 'catalog_version'))}",
        ),
        (
            "Seed",
            ("none recorded" if _get(run, "seed") is None else esc(_get(run, "seed")))
            + (f" · strict ({strict_option(results)})" if _get(run, "strict") is True else ""),
        ),
        ("Run id", f"<code>{esc(_get(run, 'id'))}</code>"),
        ("Python", f"{esc(_get(run, 'python'))} on {esc(_get(run, 'platform'))}"),
        ("Selection", _selection_cell(_get(run, "selection"))),
        ("Coverage", _coverage_cell(_get(summary, "coverage"))),
        ("Cases", count_badges),
        (
            "Exchanges",
            f"{esc(_get(summary, 'exchanges'))} ({esc(_get(summary, 'retries', 0))} transport"
            " retries)",
        ),
    ]
    table = "".join(f'<tr><td class="cr-k">{k}</td><td>{v}</td></tr>' for k, v in rows)
    return _section("The run", f'<table class="cr-meta">{table}</table>', anchor="run")


def _case_anchor(case: Mapping[str, Any]) -> str:
    return f"case-{slug(_get(case, 'id'))}"


def _pre(value: Any, *, limit: int = BODY_LIMIT) -> str:
    return f"<pre>{esc(value, limit=limit)}</pre>"


def _headers_text(headers: Any) -> str:
    if not isinstance(headers, Mapping):
        return "" if headers is None else str(headers)
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def _token(label: str, token: Any, *, like: Any = None) -> str:
    """A decoded token (header, claims, the cut signature) or the first characters of one
    that does not decode. ``like``: the first case's token at the same place; what both
    decoded the same is named on the label's line instead of shown again (``_same``)."""
    if not isinstance(token, Mapping):
        return ""
    parts = [f'<div class="cr-sub">{label}</div>']
    if "header" in token or "claims" in token:
        compare = _decoded(token) and _decoded(like)
        same = [
            n
            for n in ("header", "claims", "signature")
            if compare and n in token and _get(token, n) == _get(like, n)
        ]
        if same:
            # a signature is recorded cut ("[cut: N chars]"): only its length is known to
            # be the same, and two cases' signatures differ whenever their tokens do
            shown = [f"{n} length" if n == "signature" else n for n in same]
            named = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
            parts = [f'<div class="cr-sub">{label}: {named} {SAME}</div>']
        for name in ("header", "claims"):
            if name in same:
                continue
            value = _get(token, name, {})
            parts.append(_member_diff(name, value, _get(like, name)) if compare else _pre(value))
        if "signature" in token and "signature" not in same:
            parts.append(f'<div class="cr-small">signature: {esc(_get(token, "signature"))}</div>')
    if _get(token, "raw_preview"):
        parts.append('<div class="cr-small">does not decode; first characters:</div>')
        parts.append(_pre(_get(token, "raw_preview")))
    return "".join(parts)


#: What a compared case's evidence says of a part shown whole in the finding's first case
#: (its exchange of the same number): the legend says so once (``evidence_legend``).
SAME = "as in the first case"


def _member_diff(name: str, value: Any, like: Any) -> str:
    """A decoded header or claims set against the first case's: the members that differ
    (and those it lacks) when that is much shorter, else the whole set, labelled."""
    whole = f'<div class="cr-small">{name}:</div>{_pre(value)}'
    diff = _same.changes(value, like)
    if diff is None:
        return whole
    if not diff:
        return f'<div class="cr-small">{name} {SAME}</div>'
    shown = f'<div class="cr-small">{name} {SAME} but for:</div>'
    if diff.changed:
        shown += _pre(diff.changed)
    if diff.absent:
        shown += f'<div class="cr-small">without {esc(", ".join(diff.absent))}</div>'
    return shown if _same.shorter(shown, whole) else whole


#: The header and claims segments of a compact JWS (base64url JSON objects), long enough
#: that showing them again next to their decoded form costs more than it tells.
_JWS_HEAD = re.compile(r"\beyJ[A-Za-z0-9_-]{6}([A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*)(?=\.)")
_FOLD_AT = 120


def _fold(text: str, where: str) -> str:
    """``text`` with each compact JWS's header and claims shortened to their first
    characters and a note saying where they are shown decoded; the cut signature stays.
    Applied to display text only (``results.json`` keeps them whole)."""

    def short(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) < _FOLD_AT:
            return token
        return f"{token[:10]}…[{len(token) - 10} more chars of header and claims, {where}]"

    return _JWS_HEAD.sub(short, text)


def _decoded(token: Any) -> bool:
    return isinstance(token, Mapping) and "header" in token and "claims" in token


@dataclass(frozen=True, slots=True)
class _Message:
    """A request or response as the report shows it: its first line, its headers as
    recorded, its body; each bounded on its own, so that a huge body cannot push the
    others out. ``fold``: where the token its JWS stand for is shown decoded, if it is."""

    first: str
    headers: Any
    body: str
    fold: str | None

    def _folded(self, text: str) -> str:
        return _fold(text, self.fold) if self.fold else text

    def text(self) -> str:
        return self._folded(
            "\n".join([self.first, plain(_headers_text(self.headers)), "", self.body])
        )

    def differences(self, like: _Message) -> str | None:
        """What differs from ``like`` laid out as a message is (the first line if it
        differs, the headers that differ, a blank line and the body if it differs), with
        a last line naming the headers it lacks; ``None`` when the headers are not a
        mapping (nothing to compare) and ``""`` when nothing differs."""
        diff = _same.changes(self.headers, like.headers)
        if diff is None:
            return None
        lines = [self.first] if self.first != like.first else []
        if diff.changed:
            lines.append(self._folded(plain(_headers_text(diff.changed))))
        body = self._folded(self.body)
        if body != like._folded(like.body):
            lines += ["", body] if lines else [body]
        if diff.absent:
            lines.append(plain(f"[without the headers {', '.join(diff.absent)}]"))
        return "\n".join(lines)


def _request(exchange: Mapping[str, Any]) -> _Message:
    first = f"{_get(exchange, 'method', '')} {_get(exchange, 'url', '')}"
    return _Message(
        plain(first, limit=SHORT_LIMIT),
        _get(exchange, "request_headers"),
        plain(_get(exchange, "request_body") or ""),
        "decoded above" if _decoded(_get(exchange, "assertion")) else None,
    )


def _response(exchange: Mapping[str, Any]) -> _Message:
    status = _get(exchange, "status")
    return _Message(
        plain(status if status is not None else "(no response)", limit=SHORT_LIMIT),
        _get(exchange, "response_headers"),
        plain(_get(exchange, "response_body") or ""),
        "decoded below" if _decoded(_get(exchange, "issued")) else None,
    )


def _message(label: str, message: _Message, like: _Message | None) -> str:
    """A request or response whole, or what differs from the first case's (``like``),
    when that is much shorter."""
    whole = f'<div class="cr-sub">{label}</div><pre>{html.escape(message.text())}</pre>'
    differences = message.differences(like) if like is not None else None
    if differences is None:
        return whole
    if not differences:
        return f'<div class="cr-sub">{label} {SAME}</div>'
    shown = f'<div class="cr-sub">{label} {SAME} but for:</div>'
    shown += f"<pre>{html.escape(differences)}</pre>"
    return shown if _same.shorter(shown, whole) else whole


#: The label of the positive control the engine sends after a rejection.
CONTROL_LABEL = "control"


def _accepted_control(exchange: Mapping[str, Any]) -> bool:
    """A positive control that was accepted: the run's valid assertion, answered 2xx with
    a token. Its evidence is the same for every case (and whole in results.json), so the
    report shows it in one line; a control that was not accepted is shown whole."""
    status = _get(exchange, "status")
    return (
        _get(exchange, "label") == CONTROL_LABEL
        and isinstance(status, int)
        and 200 <= status < 300
        and _get(exchange, "issued") is not None
        and not _get(exchange, "error")
    )


def _control_line(head: str, exchange: Mapping[str, Any]) -> str:
    header = _get(_get(exchange, "assertion") or {}, "header", {})
    key = ""
    if isinstance(header, Mapping):
        key = f" ({esc(_get(header, 'alg'))}, kid {esc(_get(header, 'kid'))})"
    return (
        f'<div class="cr-ex"><span class="cr-ex-head">{head}</span> <span class="cr-small">'
        f"a valid assertion{key}, accepted with a token</span></div>"
    )


def _exchange(
    index: int,
    exchange: Mapping[str, Any],
    *,
    reproduced: bool = False,
    like: _Like | None = None,
) -> str:
    """One exchange: its head line, then (unless it is an accepted control) the assertion
    decoded, the request (or a pointer to the Reproduce line that is that request), the
    response, a transport error and the issued token decoded. ``like``: the first case's
    exchange of the same number and label, against which this one is shown."""
    status = _get(exchange, "status")
    latency = _get(exchange, "latency_ms")
    retries = _int(_get(exchange, "retries"))
    head = (
        f"#{index} {esc(_get(exchange, 'label'))} · {esc(_get(exchange, 'method'))} → "
        f"{esc(status if status is not None else 'no answer')}"
        + (f" · {esc(latency)} ms" if latency is not None else "")
        + (f" · {retries} transport retries" if retries else "")
    )
    if _accepted_control(exchange):
        return _control_line(head, exchange)
    other = like.exchange if like is not None else None
    sent = _get(other, "assertion")
    if reproduced:
        request = '<div class="cr-sub">Request: the Reproduce line</div>'
    else:
        liked = _request(like.exchange) if like is not None and like.request else None
        request = _message("Request", _request(exchange), liked)
    parts = [
        f'<div class="cr-ex"><div class="cr-ex-head">{head}</div>',
        _token("Assertion sent (decoded)", _get(exchange, "assertion"), like=sent),
        request,
        _message("Response", _response(exchange), _response(other) if other is not None else None),
    ]
    if _get(exchange, "error"):
        parts += ['<div class="cr-sub">Transport error</div>', _pre(_get(exchange, "error"))]
    issued = _get(other, "issued")
    parts.append(_token("Token issued (decoded)", _get(exchange, "issued"), like=issued))
    parts.append("</div>")
    return "".join(parts)


#: Exchanges shown whole per case: the first and the last ones (a property case's
#: shrunk example comes last); the others are one line each, in results.json in full.
EVIDENCE_SHOWN = 6


@dataclass(frozen=True, slots=True)
class _Like:
    """An exchange of a finding's first case that the report shows whole, for the same
    exchange of the finding's other cases to be shown against: ``request``, whether its
    request is shown (rather than being its Reproduce line)."""

    exchange: Mapping[str, Any]
    request: bool


def _exchange_line(index: int, exchange: Mapping[str, Any]) -> str:
    status = _get(exchange, "status")
    return (
        f"<li>#{index} {esc(_get(exchange, 'label'))} → "
        f"{esc(status if status is not None else 'no answer')}</li>"
    )


def _reproduced(case: Mapping[str, Any], exchanges: Sequence[Mapping[str, Any]]) -> int:
    """The number of the exchange the case's Reproduce line shows whole (the last one but
    a sign-in or a control, its URL in the line, its body short enough to be in it uncut
    (``_reproduce``), and its assertion, if any, decoded in the evidence: a token that
    does not decode is shown in its request only), whose request the evidence then does
    not repeat; else 0."""
    line = _get(case, "reproduce")
    if not isinstance(line, str) or not line.startswith("curl ") or len(line) >= 2000:
        return 0
    for index in range(len(exchanges), 0, -1):
        exchange = exchanges[index - 1]
        if _get(exchange, "label") in NOT_REPRODUCED:
            continue
        url, body = _get(exchange, "url"), _get(exchange, "request_body") or ""
        token = _get(exchange, "assertion")
        fits = isinstance(url, str) and bool(url) and url in line
        fits = fits and (token is None or _decoded(token))
        return index if fits and isinstance(body, str) and len(body) <= CURL_BODY_LIMIT else 0
    return 0


_Numbered = list[tuple[int, Mapping[str, Any]]]


def _split(case: Mapping[str, Any]) -> tuple[_Numbered, _Numbered, _Numbered, int]:
    """A case's exchanges, numbered from 1: those shown whole first, those folded to a
    line each, those shown whole last; and the number of the reproduced one (or 0)."""
    exchanges = [e for e in _list(_get(case, "exchanges")) if isinstance(e, Mapping)]
    numbered = list(enumerate(exchanges, start=1))
    half = EVIDENCE_SHOWN // 2
    if len(numbered) <= EVIDENCE_SHOWN:
        return numbered, [], [], _reproduced(case, exchanges)
    return numbered[:half], numbered[half:-half], numbered[-half:], _reproduced(case, exchanges)


def _shown_whole(case: Mapping[str, Any]) -> dict[int, _Like]:
    """The exchanges of ``case`` the report shows whole, by number."""
    first, _, last, reproduced = _split(case)
    return {
        i: _Like(e, request=i != reproduced) for i, e in first + last if not _accepted_control(e)
    }


def _evidence(case: Mapping[str, Any], *, like: Mapping[str, Any] | None = None) -> str:
    """A case's exchanges, folded. ``like``: the first case of the same finding, whose
    exchanges of the same number and label this case's are shown against."""
    first, folded, last, reproduced = _split(case)
    if not (first or folded or last):
        return '<div class="cr-small">No exchange recorded.</div>'
    others = _shown_whole(like) if like is not None else {}

    def whole(i: int, e: Mapping[str, Any]) -> str:
        other = others.get(i)
        if other is not None and _get(other.exchange, "label") != _get(e, "label"):
            other = None
        return _exchange(i, e, reproduced=i == reproduced, like=other)

    body = "".join(whole(i, e) for i, e in first)
    if folded:
        body += (
            f'<div class="cr-small">{_plural(len(folded), "more exchange")}, whole in '
            'results.json:</div><ul class="cr-gaps">'
            + "".join(_exchange_line(i, e) for i, e in folded)
            + "</ul>"
        )
    body += "".join(whole(i, e) for i, e in last)
    count = len(first) + len(folded) + len(last)
    return f"<details><summary>Evidence: {_plural(count, 'exchange')}</summary>{body}</details>"


#: how a line names a standard note that is not a placeholder
_NOTE_NAMES = {"gone": "port gone: replay"}


def _short_notes(line: str, case_id: str) -> str:
    """``line`` with the standard notes after its ``#`` (where ``$ASSERTION`` comes
    from, an embedded run's port being gone: the same for every case) named instead of
    spelled out: :func:`reproduce_legend` spells them out once. Any other note stays."""
    command, sep, comment = line.partition("  # ")
    if not sep:
        return line
    known = {text: _NOTE_NAMES.get(name, name) for name, text in reproduce_notes(case_id).items()}
    said = [known.get(note, note) for note in comment.split("; ")]
    return f"{command}  # {'; '.join(said)} (see: how to fill in a Reproduce line)"


def reproduce_legend() -> str:
    """The standard notes of the Reproduce lines, once (each line names them)."""
    known = reproduce_notes("CASE_ID")
    items = "".join(
        f"<li><code>{esc(_NOTE_NAMES[name])}</code>: {esc(text, limit=BODY_LIMIT)}</li>"
        if name in _NOTE_NAMES
        else f"<li>{esc(text, limit=BODY_LIMIT)}</li>"
        for name, text in known.items()
    )
    return (
        '<div class="cr-small">How to fill in a Reproduce line (CASE_ID is the case\'s '
        f'id):</div><ul class="cr-gaps">{items}</ul>'
    )


def evidence_legend() -> str:
    """How the evidence is shortened, said once (results.json holds every exchange whole)."""
    items = (
        "<li>An accepted <em>control</em> (the run's valid assertion, sent after a refusal, "
        "accepted with a token: the refusal counts) is one line.</li>"
        "<li><em>Request: the Reproduce line</em>: that request is the case's Reproduce "
        "line, its placeholders standing for the session and this assertion.</li>"
        f"<li>In a finding's cases after the first, <em>{SAME}</em> means: the same as "
        "in the first case's exchange of the same number; only what differs is shown.</li>"
    )
    return (
        '<div class="cr-small">How to read the evidence (every exchange is whole in '
        f'results.json):</div><ul class="cr-gaps">{items}</ul>'
    )


def _reproduce_line(case: Mapping[str, Any]) -> str:
    line = plain(_get(case, "reproduce") or "(no reproduction line recorded)", limit=BODY_LIMIT)
    line = _short_notes(line, plain(_get(case, "id"), limit=SHORT_LIMIT))
    return _fold(line, "the assertion decoded in the evidence")


def _reproduce(
    case: Mapping[str, Any], *, like: Mapping[str, Any] | None = None, usual: str | None = None
) -> str:
    """The case's Reproduce line and the command that re-runs it. A line that is the
    section's ``usual`` one (spelled out once at its top) or the line of ``like`` (the
    first case of the same finding) is named, not shown again."""
    line = _reproduce_line(case)
    if usual is not None and line == usual:
        shown = '<div class="cr-small">the usual command (above)</div>'
    elif like is not None and line == _reproduce_line(like):
        shown = f'<div class="cr-small">the same command {SAME}</div>'
    else:
        shown = f"<pre>{html.escape(line)}</pre>"
    return shown + f"<code>{esc(_get(case, 'rerun') or _get(case, 'nodeid'))}</code>"


#: A Reproduce line shared by at least this many shown cases is spelled out once.
USUAL_AT = 3


def _usual_line(cases: Iterable[Mapping[str, Any]]) -> str | None:
    """The Reproduce line the most of these cases share (most runs have one: the same
    request with ``$ASSERTION`` in it), if at least :data:`USUAL_AT` of them do."""
    counts = Counter(_reproduce_line(c) for c in cases if _get(c, "reproduce"))
    if not counts:
        return None
    line, count = counts.most_common(1)[0]
    return line if count >= USUAL_AT else None


def _usual_legend(usual: str | None) -> str:
    if usual is None:
        return ""
    return (
        '<div class="cr-small">The usual command: the Reproduce line that the most cases '
        f"below share; they name it instead of repeating it:</div><pre>{html.escape(usual)}</pre>"
    )


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    """Names and values, two columns by the stylesheet: a description list, which costs
    half the markup of a table's rows (a finding card and each of its cases has one)."""
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="cr-kv">{body}</dl>'


def _case_block(case: Mapping[str, Any]) -> str:
    references = ", ".join(str(r) for r in _list(_get(case, "references")))
    rows = [
        ("A correct endpoint", esc(_get(case, "correct"), limit=BODY_LIMIT)),
        (
            "This one",
            f"{badge('o', _get(case, 'outcome', 'none'))} {_pre(_get(case, 'message'))}",
        ),
        ("Why it matters", esc(_get(case, "rationale"), limit=BODY_LIMIT)),
        ("References", esc(references or "none", limit=BODY_LIMIT)),
        ("Reproduce", _reproduce(case)),
    ]
    return (
        f'<div class="cr-case" id="{_case_anchor(case)}"><div class="cr-case-head">'
        f"{badge('s', _get(case, 'severity'))} {badge('l', _get(case, 'level'))} "
        f"<code>{esc(_get(case, 'id'))}</code> {esc(_get(case, 'title'))}</div>"
        f"{_kv(rows)}{_evidence(case)}</div>"
    )


def _link(url: Any) -> str:
    """A reference as a link when it is an http(s) URL (escaped), else as text."""
    text = plain(url, limit=SHORT_LIMIT)
    if text.startswith(("https://", "http://")) and not any(c.isspace() for c in text):
        return f'<a href="{html.escape(text, quote=True)}">{html.escape(text)}</a>'
    return html.escape(text)


#: identifiers in a cited reference that have a canonical page: CVE, GHSA, CWE and
#: published RFCs (optionally with a section; an "RFC 8725bis" draft stays text)
_CITABLE = re.compile(
    r"\b(?P<cve>CVE-\d{4}-\d{4,})\b"
    r"|\b(?P<ghsa>GHSA(?:-[23456789cfghjmpqrvwx]{4}){3})\b"
    r"|\bCWE-(?P<cwe>\d+)\b"
    r"|\bRFC ?(?P<rfc>\d{3,5})(?![0-9A-Za-z])(?: ?§ ?(?P<section>\d+(?:\.\d+)*))?"
)


def _cite_url(match: re.Match[str]) -> str:
    if match["cve"]:
        return f"https://www.cve.org/CVERecord?id={match['cve']}"
    if match["ghsa"]:
        return f"https://github.com/advisories/{match['ghsa']}"
    if match["cwe"]:
        return f"https://cwe.mitre.org/data/definitions/{match['cwe']}.html"
    section = f"#section-{match['section']}" if match["section"] else ""
    return f"https://www.rfc-editor.org/rfc/rfc{match['rfc']}{section}"


def _cited(reference: Any) -> str:
    """A cited reference as text, with its CVE, GHSA, CWE and RFC identifiers linked (a
    URL as a whole is linked by :func:`_link`)."""
    text = html.escape(plain(reference, limit=SHORT_LIMIT))
    return _CITABLE.sub(lambda m: f'<a href="{_cite_url(m)}">{m[0]}</a>', text)


_CODE_SPAN = re.compile(r"`([^`]+)`")


def _prose(text: Any, *, limit: int = BODY_LIMIT) -> str:
    """The catalog's own prose (a finding's impact, remediation), escaped, with its
    Markdown code spans (`exp`) shown as code rather than as literal backticks."""
    return _CODE_SPAN.sub(r"<code>\1</code>", esc(text, limit=limit))


def _cwe(cwe: Any) -> str:
    text = plain(cwe, limit=40)
    number = text.upper().removeprefix("CWE-")
    if number.isdigit():
        url = f"https://cwe.mitre.org/data/definitions/{number}.html"
        return f'<a href="{url}">{html.escape(text)}</a>'
    return html.escape(text)


def _prose_like(case: Mapping[str, Any], key: str, like: Mapping[str, Any] | None) -> str:
    """A case's own text (what a correct endpoint does, why it matters), or "as in the
    first case" when it is the first case's (``like``) word for word."""
    if like is not None and _get(case, key) == _get(like, key) and _get(case, key):
        return f'<span class="cr-small">{SAME}</span>'
    return esc(_get(case, key), limit=BODY_LIMIT)


def _variant(
    case: Mapping[str, Any],
    finding: Finding,
    *,
    rationale: bool,
    correct: bool = True,
    like: Mapping[str, Any] | None = None,
    usual: str | None = None,
) -> str:
    """One failing case of a finding, folded: its id on the summary line (its verdict,
    severity and level when they are not the finding's), what it sent and got, how to
    reproduce it and its exchanges inside (what a correct endpoint does and why it
    matters unless the card says it once for all its cases). ``like``: the finding's
    first case, against which this one's Reproduce line and evidence are shown; ``usual``:
    the section's usual Reproduce line (:func:`_usual_line`)."""
    rows = [] if not correct else [("A correct endpoint", _prose_like(case, "correct", like))]
    rows.append(
        ("This one", f"{badge('o', _get(case, 'outcome', 'none'))} {_pre(_get(case, 'message'))}")
    )
    if rationale:
        rows.append(("Why it matters", _prose_like(case, "rationale", like)))
    rows.append(("Reproduce", _reproduce(case, like=like, usual=usual)))
    severity, level = _get(case, "severity"), _get(case, "level")
    rank = ""
    if (str(severity), str(level)) != (str(finding.severity), str(finding.level)):
        rank = f' <span class="cr-small">· {esc(severity)} · {esc(level)}</span>'
    verdict = _get(case, "verdict")
    mark = "" if str(verdict) == str(finding.verdict) else f"{badge('v', verdict)} "
    return (
        f'<details class="cr-variant" id="{_case_anchor(case)}"><summary>'
        f"{mark}<code>{esc(_get(case, 'id'))}</code> "
        f"{esc(_get(case, 'title'))}{rank}</summary>{_kv(rows)}{_evidence(case, like=like)}"
        "</details>"
    )


def _card(finding: Finding, cases: Sequence[Mapping[str, Any]], *, usual: str | None = None) -> str:
    rationales = {str(_get(c, "rationale")) for c in cases}
    shared = len(rationales) == 1
    same_correct = len({str(_get(c, "correct")) for c in cases}) == 1 and len(cases) > 1
    references = [_link(u) for u in finding.references]
    cited = sorted({str(r) for c in cases for r in _list(_get(c, "references"))})
    references += [_cited(r) for r in cited]
    weakness = ", ".join(_cwe(c) for c in finding.cwe) or "none recorded"
    rows = [
        ("Impact", _prose(finding.impact)),
        ("Remediation", _prose(finding.remediation)),
    ]
    if same_correct:
        rows.append(("A correct endpoint", esc(_get(cases[0], "correct"), limit=BODY_LIMIT)))
    if shared and cases:
        rows.append(("Why it matters", esc(_get(cases[0], "rationale"), limit=BODY_LIMIT)))
    rows += [
        ("Weakness", weakness),
        ("ASVS 5.0", esc(", ".join(finding.asvs) or "none recorded")),
        ("Specification", "; ".join(_cited(c) for c in finding.spec) or "none recorded"),
        ("References", "<br>".join(references) or "none"),
    ]
    return (
        f'<div class="cr-case cr-finding" id="{_finding_anchor(finding)}">'
        f'<div class="cr-case-head">{badge("s", finding.severity)} {badge("l", finding.level)} '
        f"{badge('v', finding.verdict)} {esc(finding.title)} "
        f'<span class="cr-small">· {_plural(len(cases), "case")}</span></div>'
        f"{_kv(rows)}"
        f'<div class="cr-sub">The cases ({len(cases)}), each with its evidence</div>'
        + "".join(
            _variant(
                c,
                finding,
                rationale=not shared,
                correct=not same_correct,
                like=cases[0] if i else None,
                usual=usual,
            )
            for i, c in enumerate(cases)
        )
        + "</div>"
    )


def finding_cards(results: Mapping[str, Any], found: Sequence[Finding]) -> str:
    """Section 3: one card per finding (most severe first, as :func:`findings` orders
    them): impact, remediation, CWE/ASVS/spec, references as links, and its failing
    cases folded in, one ``<details>`` each, the rationale once when they share it. A
    failing case no finding holds (which the grouping should never leave) is shown on
    its own after the cards, so nothing is lost."""
    cases = {str(_get(c, "id")): c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)}
    cards = []
    held: set[str] = set()
    usual = _usual_line(cases[i] for f in found for i in f.case_ids if i in cases)
    for finding in found:
        members = [cases[i] for i in finding.case_ids if i in cases]
        held.update(finding.case_ids)
        cards.append(_card(finding, members, usual=usual))
    loose = [
        c
        for c in cases.values()
        if _get(c, "verdict") in ("fail", "warn", "error") and str(_get(c, "id")) not in held
    ]
    cards += [
        _case_block(c) for c in sorted(loose, key=lambda c: severity_rank(_get(c, "severity")))
    ]
    if not cards:
        return _section(
            "Findings in detail",
            '<p class="cr-ok">No case failed, warned or erred.</p>',
            anchor="findings",
        )
    legends = reproduce_legend() + _usual_legend(usual) + evidence_legend()
    return _section("Findings in detail", legends + "".join(cards), anchor="findings")


def _percentile(values: Sequence[float], q: float) -> float:
    # Nearest rank: a value that was measured, not an interpolation between two.
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _whole_ms(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.0f}"
    return esc(value)


def _ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def timing(results: Mapping[str, Any]) -> str:
    """Requests and latency by category: cases, requests, transport retries, requests
    without an answer, p50/p95/max latency of the answered ones, and deliberate waits
    (clock and cache boundaries), from the exchanges and cases as recorded."""
    rows = []
    totals: dict[str, Any] = {}
    for name in categories(results):
        members = [
            c
            for c in _list(_get(results, "cases"))
            if isinstance(c, Mapping) and str(_get(c, "category")) == name
        ]
        exchanges = [
            e for c in members for e in _list(_get(c, "exchanges")) if isinstance(e, Mapping)
        ]
        latencies = [
            float(v)
            for e in exchanges
            if isinstance(v := _get(e, "latency_ms"), int | float)
            and not isinstance(v, bool)
            and _get(e, "status") is not None
        ]
        retries = sum(_int(_get(e, "retries")) for e in exchanges)
        unanswered = sum(1 for e in exchanges if _get(e, "status") is None)
        waited = sum(
            float(v) for c in members if isinstance(v := _get(c, "waited_ms"), int | float)
        )
        for key, value in (
            ("cases", len(members)),
            ("requests", len(exchanges)),
            ("retries", retries),
            ("unanswered", unanswered),
            ("waited", waited),
        ):
            totals[key] = totals.get(key, 0) + value
        totals.setdefault("latencies", []).extend(latencies)
        rows.append(
            _timing_row(
                esc(name), len(members), len(exchanges), retries, unanswered, latencies, waited
            )
        )
    if not totals.get("requests"):
        return _section("Requests and latency", "<p>No exchange was recorded.</p>", anchor="timing")
    rows.append(
        _timing_row(
            "<strong>all</strong>",
            totals["cases"],
            totals["requests"],
            totals["retries"],
            totals["unanswered"],
            totals["latencies"],
            totals["waited"],
        )
    )
    head = [
        "Category",
        "Cases",
        "Requests",
        "Retries",
        "No answer",
        "p50 ms",
        "p95 ms",
        "max ms",
        "Waits s",
    ]
    return _section(
        "Requests and latency",
        '<p class="cr-small">Latency of the answered requests; retries are transport '
        "retries (429/503, connect), never a second try at a verdict; waits are the "
        "deliberate pauses of clock and cache cases.</p>"
        + _table(head, rows, cls="cr-table cr-num"),
        anchor="timing",
    )


def _timing_row(
    name: str,
    cases: int,
    requests: int,
    retries: int,
    unanswered: int,
    latencies: Sequence[float],
    waited_ms: float,
) -> list[str]:
    stats = (
        [_ms(_percentile(latencies, 50)), _ms(_percentile(latencies, 95)), _ms(max(latencies))]
        if latencies
        else ["—", "—", "—"]
    )
    return [
        name,
        str(cases),
        str(requests),
        str(retries),
        str(unanswered),
        *stats,
        f"{waited_ms / 1000:.1f}" if waited_ms else "0",
    ]


def _by_verdict(results: Mapping[str, Any], verdict: str) -> list[Mapping[str, Any]]:
    cases = [c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)]
    chosen = [c for c in cases if _get(c, "verdict") == verdict]
    # Most severe first; within a severity the results' own order (catalog order).
    return sorted(chosen, key=lambda c: severity_rank(_get(c, "severity")))


def heading(title: str, *, anchor: str) -> str:
    """A section heading (``title`` and ``anchor`` are escaped)."""
    return f'<h2 id="{slug(anchor)}">{esc(title)}</h2>'


def _section(title: str, body: str, *, anchor: str) -> str:
    return f'<div class="cr-section" id="{anchor}"><h2>{title}</h2>{body}</div>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "cr-table") -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _id_title(case: Mapping[str, Any]) -> str:
    return f"<code>{esc(_get(case, 'id'))}</code><br>{esc(_get(case, 'title'))}"


def attention(results: Mapping[str, Any], *, findings_shown: bool = False) -> str:
    """Section 4: warnings, waived cases (owner, expiry, state), errors, and skips with
    their reasons. Warnings and errors carry their evidence like failures do, unless
    ``findings_shown``: then they are in the finding cards and only waivers and skips
    are listed here."""
    parts: list[str] = []
    warns = [] if findings_shown else _by_verdict(results, "warn")
    if warns:
        parts.append(
            f"<h3>Warnings ({len(warns)})</h3>"
            '<p class="cr-small">Failed <em>should</em> cases (hardening); they fail the run '
            f"only in a strict run (<code>{esc(strict_option(results))}</code>).</p>"
            + "".join(_case_block(c) for c in warns)
        )
    waived = _by_verdict(results, "waived")
    if waived:
        rows = []
        for case in waived:
            waiver = _get(case, "waiver", {})
            rows.append(
                [
                    _id_title(case),
                    badge("s", _get(case, "severity")),
                    esc(_get(waiver, "owner")),
                    esc(_get(waiver, "expires")),
                    badge("w", _get(waiver, "state", "unknown")),
                    esc(_get(waiver, "reason"), limit=BODY_LIMIT),
                ]
            )
        parts.append(
            f"<h3>Waived ({len(waived)})</h3>"
            + _table(["Case", "Severity", "Owner", "Expires", "State", "Reason"], rows)
        )
    errors = [] if findings_shown else _by_verdict(results, "error")
    if errors:
        parts.append(
            f"<h3>Errors ({len(errors)})</h3>"
            '<p class="cr-small">The target misbehaved (5xx, timeout, unparsable answer): '
            "these cases have no verdict.</p>" + "".join(_case_block(c) for c in errors)
        )
    skips = _by_verdict(results, "skip")
    if skips:
        rows = [[_id_title(c), esc(_get(c, "message"), limit=BODY_LIMIT)] for c in skips]
        parts.append(f"<h3>Skipped ({len(skips)})</h3>" + _table(["Case", "Reason"], rows))
    title = "Waivers and skips" if findings_shown else "Warnings, waivers, errors and skips"
    if not parts:
        parts.append(f'<p class="cr-ok">No {title.lower().replace(" and ", " or ")}.</p>')
    if warns or errors:  # their Reproduce lines name the standard notes
        parts.insert(0, reproduce_legend() + evidence_legend())
    return _section(title, "".join(parts), anchor="attention")


def _case_row(case: Mapping[str, Any]) -> str:
    """One row of the all-cases table. At 1,000 rows every byte of a row counts (the page
    budget is 600 KB): the id is monospace by the stylesheet, not a ``<code>``, and a row
    that did not pass carries the classes that colour its severity and verdict cells
    (``s-<severity> v-<verdict>``); a passing row has none (its verdict cell is green)."""
    code = esc(_get(case, "id"))
    severity, verdict = _get(case, "severity"), _get(case, "verdict")
    if verdict in ("fail", "warn", "error"):
        code = f'<a href="#{_case_anchor(case)}">{code}</a>'
    row = "<tr>" if verdict == "pass" else f'<tr class="s-{slug(severity)} v-{slug(verdict)}">'
    return (
        f"{row}<td>{code}</td><td>{esc(_get(case, 'title'))}</td>"
        f"<td>{esc(_get(case, 'level'))}</td><td>{esc(severity)}</td>"
        f"<td>{esc(_get(case, 'expect'))}</td><td>{esc(verdict)}</td>"
        f"<td>{esc(_get(case, 'outcome'))}</td><td>{_whole_ms(_get(case, 'duration_ms'))}</td></tr>"
    )


def _case_list(ids: Sequence[str], *, shown: int = 10) -> str:
    more = f" (+{len(ids) - shown} more)" if len(ids) > shown else ""
    return ", ".join(f"<code>{esc(c)}</code>" for c in ids[:shown]) + more or "—"


def waiver_review(results: Mapping[str, Any]) -> str:
    """The waivers that need their owner: expired (with the date and owner; their cases
    fail because the waiver expired), stale (their cases pass now: remove them), unused
    (they match no case: a misspelt id or glob, or a renamed case). Empty when none."""
    cases = [c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)]
    recorded = [
        (str(_get(c, "id")), w if isinstance(w := _get(c, "waiver"), Mapping) else None)
        for c in cases
    ]
    unused = [str(w) for w in _list(_get(_get(results, "run", {}), "unused_waivers"))]
    notes = waiver_notes(recorded, unused)
    if not notes:
        return ""
    todo = {
        "expired": "its cases fail because it expired: renew it or fix the target",
        "stale": "its cases pass now: remove the waiver",
        "unused": "matches no case of this run: a misspelt id or glob, or a renamed case?",
    }
    rows = [
        [
            badge("w", note.state),
            f"<code>{esc(note.waiver)}</code>",
            esc(note.owner) or "—",
            esc(note.expires) or "—",
            _case_list(note.cases),
            esc(todo[note.state]),
        ]
        for note in notes
    ]
    body = _table(["State", "Waiver", "Owner", "Expires", "Cases", "What to do"], rows)
    return _section(f"Waivers to review ({len(notes)})", body, anchor="waiver-review")


def case_table(results: Mapping[str, Any]) -> str:
    """Section 5: every case, grouped by category in the results' order; a category with
    a failure, warning or error is open, the others folded."""
    by_category = _get(_get(results, "summary", {}), "by_category", {})
    cases = [c for c in _list(_get(results, "cases")) if isinstance(c, Mapping)]
    groups: dict[str, list[Mapping[str, Any]]] = {name: [] for name in categories(results)}
    for case in cases:
        groups.setdefault(str(_get(case, "category")), []).append(case)
    blocks = []
    for name, members in groups.items():
        counts = _get(by_category, name, {})
        tally = " ".join(
            f"{badge('v', v)}&nbsp;{esc(_get(counts, v))}"
            for v in VERDICT_ORDER
            if _int(_get(counts, v))
        )
        # Hand-built rows: at 1,000 cases every byte of a row counts (severity and
        # verdict are coloured cells, not badges; the page budget is 600 KB).
        rows = "".join(_case_row(c) for c in members)
        is_open = any(_int(_get(counts, v)) for v in ("fail", "warn", "error"))
        head = "".join(
            f"<th>{h}</th>"
            for h in ("Case", "Title", "Level", "Severity", "Expect", "Verdict", "Outcome", "ms")
        )
        blocks.append(
            f"<details{' open' if is_open else ''}><summary><strong>{esc(name)}</strong> "
            f'{tally}</summary><table class="cr-table cr-cases"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></details>"
        )
    return _section("All cases", "".join(blocks) or "<p>No cases.</p>", anchor="cases")


def facts(results: Mapping[str, Any]) -> str:
    """Section 5b: the measured ``facts`` about the target, as recorded."""
    measured = _get(results, "facts", {})
    if not isinstance(measured, Mapping) or not measured:
        return _section("Target profile", "<p>No facts were measured.</p>", anchor="facts")
    rows = []
    for name, fact in measured.items():
        value = _get(fact, "value") if isinstance(fact, Mapping) else fact
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        rows.append(
            [
                f"<code>{esc(name)}</code>",
                esc(value, limit=BODY_LIMIT),
                esc(_get(fact, "detail"), limit=BODY_LIMIT),
            ]
        )
    return _section(
        "Target profile", _table(["Fact", "Value", "How it was measured"], rows), anchor="facts"
    )


def changes(diff: ResultsDiff) -> str:
    """Section 6: what changed since the baseline run (see :mod:`conformance.report.diff`)."""
    blocks = []
    groups = (
        ("Regressions", diff.regressions),
        ("Lost coverage (ran before, skipped or missing now)", diff.lost_coverage),
        ("Fixed", diff.fixed),
        ("Other verdict changes", diff.other_changes),
        ("Added cases", diff.added),
        ("Removed cases", diff.removed),
    )
    for title, items in groups:
        if not items:
            continue
        rows = [
            [
                f"<code>{esc(ch.case_id)}</code><br>{esc(ch.title)}",
                badge("s", ch.severity),
                badge("v", ch.old) if ch.old else "—",
                badge("v", ch.new) if ch.new else "—",
            ]
            for ch in items
        ]
        blocks.append(
            f"<h3>{title} ({len(items)})</h3>"
            + _table(["Case", "Severity", "Baseline", "Now"], rows)
        )
    intro = (
        f'<p class="cr-small">Baseline run <code>{esc(diff.old_run_id)}</code> '
        f"({esc(diff.old_started_at)}).</p>"
    )
    notes = "".join(f"<li>Lost coverage: {esc(n, limit=300)}</li>" for n in diff.coverage_notes)
    if diff.target_note:
        notes = f"<li>Note: {esc(diff.target_note, limit=400)}</li>" + notes
    if notes:
        blocks.insert(0, f'<ul class="cr-gaps">{notes}</ul>')
    body = "".join(blocks) or '<p class="cr-ok">No verdict changed.</p>'
    return _section("Changes since baseline", intro + body, anchor="changes")
