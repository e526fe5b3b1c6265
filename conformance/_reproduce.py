"""The "Reproduce" curl line of a case: runnable once its placeholders are filled in.

Secrets never appear in evidence, so a curl line made of the recorded request cannot run
as printed (the bearer is redacted, the signature cut). Instead the line names what to
fill in, as shell variables, and says where each comes from:

* ``$ASSERTION``: a fresh assertion of the case, signed with the configured key —
  ``conformance replay RESULTS.json CASE_ID --assertion-file FILE`` writes one whole to a
  new file of mode 0600 without sending it, then ``ASSERTION=$(cat FILE)`` (a recorded
  assertion's ``jti`` is spent: it would be refused as a replay);
* ``$SESSION_TOKEN``: the bearer of a session of the signed-in user (your own sign-in,
  or the ``session_tokens`` of the configuration);
* ``$ELEVATED_TOKEN``: a token the target issued in the same case.

Everything else of the request is kept as recorded (scrubbed). A request made against a
loopback port (the embedded emulator) cannot be re-sent: the line says to use
``conformance replay`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from ._redact import scrub

if TYPE_CHECKING:
    from .targets.base import Exchange

__all__ = [
    "ASSERTION",
    "CURL_BODY_LIMIT",
    "GONE",
    "NOT_REPRODUCED",
    "SESSION_TOKEN",
    "WHERE",
    "notes",
    "reproduce_line",
]

ASSERTION = "$ASSERTION"
SESSION_TOKEN = "$SESSION_TOKEN"
ELEVATED_TOKEN = "$ELEVATED_TOKEN"
_ASSERTION_FIELDS = ("jwt", "assertion", "client_assertion")
#: where each placeholder's value comes from (``{case_id}``: the case's id)
WHERE = {
    ASSERTION: "conformance replay RESULTS.json {case_id} --assertion-file a.jwt, then "
    "$(cat a.jwt)",
    SESSION_TOKEN: "the bearer of your signed-in user's session",
    ELEVATED_TOKEN: "the token the target issued earlier in this case",
}
#: the note of a request made to the run's own emulator (its port closed with the run)
GONE = (
    "an embedded emulator's port is gone with its run: "
    "conformance replay RESULTS.json {case_id} re-sends the case"
)
CURL_BODY_LIMIT = 600
#: labels of exchanges a curl line never reproduces (it reproduces the last other one)
NOT_REPRODUCED = frozenset({"sign-in", "control"})


def _single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _double(text: str) -> str:
    """``text`` in double quotes with nothing expanded but the placeholders."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    for name in (ASSERTION, SESSION_TOKEN, ELEVATED_TOKEN):
        quoted = quoted.replace("\\" + name, name)
    return f'"{quoted}"'


def _quote(text: str) -> str:
    return _double(text) if any(p in text for p in (ASSERTION, SESSION_TOKEN)) else _single(text)


def _swapped(value: str, assertion: str) -> str | None:
    """``value`` with ``$ASSERTION`` for the assertion when it is the assertion, or a
    header's ``SCHEME <assertion>``; ``None`` otherwise."""
    if value == assertion:
        return ASSERTION
    scheme, space, rest = value.partition(" ")
    return f"{scheme} {ASSERTION}" if space and rest == assertion else None


def _json_swapped(data: Any, assertion: str) -> tuple[Any, bool]:
    if isinstance(data, str):
        return (ASSERTION, True) if data == assertion else (data, False)
    if isinstance(data, list):
        items = [_json_swapped(item, assertion) for item in data]
        return [item for item, _ in items], any(found for _, found in items)
    if isinstance(data, dict):
        members = {key: _json_swapped(value, assertion) for key, value in data.items()}
        return {k: v for k, (v, _) in members.items()}, any(f for _, f in members.values())
    return data, False


def _sent_body(exchange: Exchange, content_type: str) -> tuple[str, bool] | None:
    """The body as sent, whole, with ``$ASSERTION`` wherever a member or form parameter
    (any name, at any depth) is the assertion; ``None`` when it carries it nowhere."""
    body, assertion = exchange.raw_request_body, exchange.assertion
    if not body or not assertion:
        return None
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(body, keep_blank_values=True)
        if not any(value == assertion for _, value in pairs):
            return None
        replaced = [(k, ASSERTION if v == assertion else v) for k, v in pairs]
        return urlencode(replaced, safe="$"), True
    if "json" in content_type:
        try:
            data, found = _json_swapped(json.loads(body), assertion)
        except (ValueError, RecursionError):
            return None
        return (json.dumps(data), True) if found else None
    return None


def _body(exchange: Exchange) -> tuple[str, bool]:
    """The request body with the assertion replaced by ``$ASSERTION`` where the request
    carries it in a field: found by value in the body as sent (any field name, nested
    JSON), else by name in the recorded one (JSON ``jwt``, form
    ``assertion``/``client_assertion``); the recorded body otherwise. Second: whether
    the placeholder is in it."""
    body = exchange.request_body
    if not exchange.assertion:
        return body, False
    content_type = next(
        (v for k, v in exchange.request_headers.items() if k.lower() == "content-type"), ""
    )
    sent = _sent_body(exchange, content_type)
    if sent is not None:
        return sent
    if "json" in content_type:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return body, False
        if isinstance(data, dict) and isinstance(data.get("jwt"), str):
            data["jwt"] = ASSERTION
            return json.dumps(data), True
        return body, False
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(body, keep_blank_values=True)
        if not any(k in _ASSERTION_FIELDS for k, _ in pairs):
            return body, False
        replaced = [(k, ASSERTION if k in _ASSERTION_FIELDS else v) for k, v in pairs]
        return urlencode(replaced, safe="$"), True
    return body, False


def reproduce_line(
    exchanges: Sequence[Exchange], *, case_id: str = "", embedded: bool = False
) -> str:
    """A ``curl`` line for the last attempt of a case (the one that decided), with
    placeholders for its secrets and a comment saying where each comes from.
    ``embedded``: the target was the run's own emulator, whose port closed with the run
    (a configured target, even on loopback, is still there)."""
    last = next((e for e in reversed(exchanges) if e.label not in NOT_REPRODUCED), None)
    if last is None:
        return ""
    parts = ["curl -sS -X", last.method, _single(last.url)]
    needs: list[str] = []
    raw_headers = last.raw_request_headers or {}
    for name, value in last.request_headers.items():
        lower = name.lower()
        carried = (
            _swapped(raw_headers[name], last.assertion)
            if last.assertion and name in raw_headers
            else None
        )
        if carried is not None:
            value = carried
            needs.insert(0, ASSERTION)
        elif lower == "authorization" and value.startswith("Bearer "):
            value = f"Bearer {SESSION_TOKEN}"
            needs.append(SESSION_TOKEN)
        elif lower == "x-dyn-elevated-access-token":
            value = ELEVATED_TOKEN
            needs.append(ELEVATED_TOKEN)
        parts += ["-H", _quote(f"{name}: {value}")]
    body, has_assertion = _body(last)
    if body:
        parts += ["--data", _quote(body[:CURL_BODY_LIMIT])]
    if has_assertion:
        needs.insert(0, ASSERTION)
    known = notes(case_id)
    said = [known[name] for name in dict.fromkeys(needs)]
    if embedded:
        said.insert(0, known["gone"])
    line = " ".join(parts) + (f"  # {'; '.join(said)}" if said else "")
    return scrub(line, limit=2000)


def notes(case_id: str = "") -> dict[str, str]:
    """The notes a curl line of ``case_id`` may carry after its ``#``: one per
    placeholder (``$ASSERTION = ...``), and ``gone`` for the run's own emulator. The
    report shows them once and each line's by name (``report/views.py``)."""
    known = {
        name: f"{name} = {text.format(case_id=case_id or 'CASE_ID')}"
        for name, text in WHERE.items()
    }
    known["gone"] = GONE.format(case_id=case_id or "CASE_ID")
    return known
