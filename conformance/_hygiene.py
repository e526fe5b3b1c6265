"""Error hygiene on every refusal: each clean refusal is inspected as it is recorded.

The ``errors.*`` cases judge a few fixed triggers; a leak or a reflection often shows on
one path only (a JWKS fetch that failed, a claim the parser choked on). The engine hands
every clean refusal it records to the run's :class:`RefusalLog`, which inspects the answer
as the target sent it (``Exchange.answer_text``: never recorded, it may hold the very
secret looked for) and keeps what it found — not the text. The ``errors.hygiene.*``
cases (``catalog/hygiene.py``) judge the log once, so one refusal counts once:

* ``disclosure`` — a stack trace, PEM private key material, an exception repr, an
  "expected <value>" (CVE-2019-7644), the assertion's own signature, the signing key's
  private members (``d``, ``p``, ``q``..., an HMAC secret ``k``);
* ``public_key`` — an echo of a public key (the trusted key's ``n``/``x``/``y``, a PEM
  public key or certificate, the assertion's own ``jwk`` header): public, so no
  disclosure — counted and shown as a fact, never a failure;
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

__all__ = [
    "LEAKS",
    "Finding",
    "RefusalLog",
    "disclosures",
    "echoes_public_key",
    "inspect",
    "public_parameters",
]

#: What an error text has no business carrying, each with what it is.
LEAKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
        "a Python stack trace",
    ),
    (re.compile(r"\bat [\w$.]+\([\w]+\.(?:java|kt|js|ts):\d+\)"), "a stack trace"),
    # a PUBLIC KEY or CERTIFICATE block is public: only a private key is a disclosure
    (re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"), "PEM private key material"),
    (
        # a value shaped like a signature or key (40+ base64 characters mixing cases and
        # digits, or 40+ hex digits): an expected audience, issuer or id is public, and
        # so is an expected public key (:func:`disclosures` spares those). (Each
        # look-ahead reads at most 512 characters of the value: unbounded, a hostile body
        # of "expected" repeated cost seconds per refusal, quadratic in its length.)
        re.compile(
            r"(?i:expected)\W{0,3}\s*(?P<value>"
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
#: The members of a public JWK long enough not to occur by chance.
_PUBLIC_MEMBERS = frozenset({"n", "x", "y"})
_PUBLIC_PEM = re.compile(r"-----BEGIN (?:PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----")
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
    kind: str  # disclosure | public_key | reflection | shape
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


def public_parameters(jwk: Any) -> list[str]:
    """The long public parameters (``n``, ``x``, ``y``) of a JWK."""
    if not isinstance(jwk, dict):
        return []
    return [str(v) for k, v in jwk.items() if k in _PUBLIC_MEMBERS and len(str(v)) >= 16]


def _header_jwk(assertion: str | None) -> list[str]:
    """The public parameters of the assertion's own ``jwk`` header, if it has one."""
    try:
        header = json.loads(b64url_decode((assertion or "").split(".")[0]))
    except (ValueError, RecursionError):
        return []
    return public_parameters(header.get("jwk")) if isinstance(header, dict) else []


def _leaked(match: re.Match[str], public: Sequence[str]) -> bool:
    """Whether a :data:`LEAKS` match is a leak: not when the value it quotes is public."""
    value = match.groupdict().get("value")
    return value is None or not any(value in p for p in public)


def disclosures(
    text: str, assertion: str | None, *, public: Sequence[str] = (), private: Sequence[str] = ()
) -> list[str]:
    """What ``text`` (an answer as sent) discloses: each a "discloses ..." or "echoes ..."
    phrase. A public key (``public``, or the assertion's own ``jwk`` header) is never one:
    an "expected <value>" that is a public parameter is spared (see
    :func:`echoes_public_key`). ``private``: the signing key's private members."""
    text = text[:_INSPECTED_CHARS]
    public = [*public, *_header_jwk(assertion)]
    found: list[str] = []
    for pattern, what in LEAKS:
        if any(_leaked(m, public) for m in pattern.finditer(text)):
            found.append(f"discloses {what}")
    signatures = [s for s in signature_segments(assertion or "") if len(s) >= 16]
    if any(form in text for s in signatures for form in (s, quote(s, safe=""))):
        found.append("echoes the assertion's signature")
    if any(len(m) >= 8 and m in text for m in private):
        found.append("echoes private key material")
    return found


def echoes_public_key(text: str, assertion: str | None, public: Sequence[str] = ()) -> bool:
    """Whether ``text`` echoes a public key (``public``, the assertion's ``jwk`` header,
    a PEM public key or certificate): a fact, never a disclosure."""
    text = text[:_INSPECTED_CHARS]
    every = [*public, *_header_jwk(assertion)]
    return bool(_PUBLIC_PEM.search(text)) or any(p in text for p in every)


def inspect(
    exchange: Exchange, *, public: Sequence[str] = (), private: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(kind, what) for each problem of one clean refusal; ``public`` are public-key
    parameters (an echo is a ``public_key`` fact), ``private`` the signing key's private
    members (an echo is a disclosure)."""
    text = exchange.answer_text[:_INSPECTED_CHARS]
    found = [
        ("disclosure", what)
        for what in disclosures(text, exchange.assertion, public=public, private=private)
    ]
    if echoes_public_key(text, exchange.assertion, public):
        found.append(("public_key", "echoes a public key (public: no disclosure)"))
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
        self,
        case_id: str,
        category: str,
        exchange: Exchange,
        *,
        public: Sequence[str] = (),
        private: Sequence[str] = (),
    ) -> None:
        if not exchange.rejected or self.judged_elsewhere(case_id, category):
            return
        problems = inspect(exchange, public=public, private=private)
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
