"""Error hygiene on every refusal: each clean refusal is inspected as it is recorded.

The ``errors.*`` cases judge a few fixed triggers; a leak or a reflection often shows on
one path only (a JWKS fetch that failed, a claim the parser choked on). The engine hands
every clean refusal it records to the run's :class:`RefusalLog`, which inspects the answer
as the target sent it (``Exchange.answer_text``: never recorded, it may hold the very
secret looked for) and keeps what it found — not the text. The ``errors.hygiene.*``
cases (``catalog/hygiene.py``) judge the log once, so one refusal counts once:

* ``disclosure`` — a stack trace, PEM key material, an exception repr, an "expected
  <value>" (CVE-2019-7644), the assertion's own signature, the trusted key's parameters;
* ``reflection`` — attacker-controlled markup from the assertion (a ``kid``, a claim)
  verbatim in an answer a browser renders (HTML, XML, or no content type at all);
* ``shape`` — a refusal of an exchange without a JSON object carrying an ``error`` string.

Refusals recorded by the ``errors.*`` cases (other than ``errors.hygiene.*``) are left
out: they judge those same things on their own triggers. The log is per process (under
pytest-xdist, per worker: ``partial`` says so, and a worker's hygiene case fails on what
it found but never passes for the run).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ._jose import b64url_decode
from ._redact import signature_segments
from .targets.base import Exchange

__all__ = ["LEAKS", "Finding", "RefusalLog", "inspect"]

#: What an error text has no business carrying, each with what it is.
LEAKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
        "a Python stack trace",
    ),
    (re.compile(r"\bat [\w$.]+\([\w]+\.(?:java|kt|js|ts):\d+\)"), "a stack trace"),
    (re.compile(r"-----BEGIN [A-Z ]+-----"), "PEM key material"),
    (
        # a value shaped like a signature or key (40+ base64 characters mixing cases and
        # digits, or 40+ hex digits): an expected audience, issuer or id is public. (Each
        # look-ahead reads at most 512 characters of the value: unbounded, a hostile body
        # of "expected" repeated cost seconds per refusal, quadratic in its length.)
        re.compile(
            r"(?i:expected)\W{0,3}\s*(?:"
            r"(?=[A-Za-z0-9+/_=-]{0,512}[A-Z])(?=[A-Za-z0-9+/_=-]{0,512}[a-z])"
            r"(?=[A-Za-z0-9+/_=-]{0,512}\d)"
            r"[A-Za-z0-9+/_=-]{40,}|[0-9A-Fa-f]{40,})"
        ),
        "an expected value (CVE-2019-7644)",
    ),
    # \b: a word is tried from its start only (from each of its letters, a long word cost
    # seconds per refusal); it finds the same words (\w+ reaches back to the start)
    (re.compile(r"<(?:class|module|function) '[\w.]+'>|\b\w+Error\("), "an exception repr"),
)
#: How much of an answer is inspected (the transport bounds bodies to 1 MB).
_INSPECTED_CHARS = 65536
#: Findings kept per kind (the count is always exact).
_KEPT = 20


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one refusal (never the text that showed it)."""

    case_id: str
    label: str
    status: int
    kind: str  # disclosure | reflection | shape
    what: str

    def line(self) -> str:
        return f"{self.case_id} ({self.label}, HTTP {self.status}): {self.what}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _markup(assertion: str | None) -> list[str]:
    """Strings with markup in the assertion's header and payload (best effort)."""
    found: list[str] = []
    for segment in (assertion or "").split(".")[:2]:
        try:
            decoded = json.loads(b64url_decode(segment))
        except (ValueError, RecursionError):
            continue
        found += [s for s in _strings(decoded) if "<" in s and len(s) >= 4]
    return found


def _renders(content_type: str) -> bool:
    """Whether a browser renders markup in an answer of this type (HTML, XML, SVG, or
    no type at all: sniffed)."""
    kind = content_type.lower()
    return not kind.strip() or "html" in kind or "xml" in kind


def inspect(exchange: Exchange, material: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(kind, what) for each problem of one clean refusal; ``material`` are public-key
    parameters an answer must not echo."""
    text = exchange.answer_text[:_INSPECTED_CHARS]
    found = [("disclosure", f"discloses {what}") for pattern, what in LEAKS if pattern.search(text)]
    signatures = [s for s in signature_segments(exchange.assertion or "") if len(s) >= 16]
    if any(form in text for s in signatures for form in (s, quote(s, safe=""))):
        found.append(("disclosure", "echoes the assertion's signature"))
    if any(m in text for m in material):
        found.append(("disclosure", "echoes key material"))
    headers = exchange.raw_response_headers or exchange.response_headers
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    reflected = any(s in text for s in _markup(exchange.assertion))
    if reflected and _renders(content_type):
        found.append(
            ("reflection", f"reflects markup from the assertion unescaped ({content_type})")
        )
    if exchange.assertion is not None:
        body = exchange.json()
        error = body.get("error") if isinstance(body, dict) else None
        if not (isinstance(error, str) and error):
            found.append(("shape", "is not a JSON object with an error string"))
    return found


@dataclass
class RefusalLog:
    """The refusals of a run (one process), inspected as they are recorded."""

    checked: int = 0
    #: why this log holds only part of the run's refusals (an xdist worker), else ""
    partial: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def judged_elsewhere(case_id: str, category: str) -> bool:
        """The ``errors.*`` cases judge their own refusals (never twice)."""
        return category == "errors" and not case_id.startswith("errors.hygiene.")

    def observe(
        self, case_id: str, category: str, exchange: Exchange, material: Sequence[str] = ()
    ) -> None:
        if not exchange.rejected or self.judged_elsewhere(case_id, category):
            return
        problems = inspect(exchange, material)
        with self._lock:
            self.checked += 1
            for kind, what in problems:
                self.counts[kind] = self.counts.get(kind, 0) + 1
                kept = sum(1 for f in self.findings if f.kind == kind)
                if kept < _KEPT:
                    status = exchange.status or 0
                    self.findings.append(Finding(case_id, exchange.label, status, kind, what))

    def of(self, *kinds: str) -> tuple[int, list[Finding]]:
        """How many refusals had a problem of ``kinds``, and the first findings."""
        with self._lock:
            count = sum(self.counts.get(k, 0) for k in kinds)
            return count, [f for f in self.findings if f.kind in kinds]
