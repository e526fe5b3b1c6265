"""Keep secrets out of evidence: cut JWT signatures, redact bearers, bound bodies.

Every string that leaves the run (results.json, JUnit, failure messages, logs) passes
through here. A JWT is shown decoded with its signature cut: readable, but unusable.

Secrets are cut by *shape* (anything that looks like a compact JWS) and by *value*:
every secret the run holds is remembered here — opaque session and issued tokens,
bearer and cookie values seen in headers, the private members of the signing keys, and
the signature segment(s) of every assertion sent, however malformed — together with the
spellings a target may echo it in (JSON-escaped, URL-encoded, base64). :func:`scrub`
replaces each occurrence, whatever surrounds it.

Target text is made inert as well: control characters (C0 but tab and newline, DEL,
C1), the bidi overrides and isolates, and what XML cannot carry become visible escapes
(:func:`inert`), and long text is bounded.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, quote_plus

from ._jose import b64url_decode

BODY_LIMIT = 4096
# A candidate compact JWS in free text: three dot-separated base64url runs, the last one
# (the signature) at least 8 characters. Being shaped like one is not enough to be cut:
# the first segment must decode to a JSON object with an "alg" member (a JOSE header,
# :func:`_jose_header_at`), so dotted names such as case ids ("header.jwk.es256_no_kid")
# are never taken for tokens.
# (A candidate starts where a base64url run starts: the lookbehind keeps the search linear
# in the length of the text, however long a run without dots is.)
_CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9_\-])([A-Za-z0-9_\-]{4,})\.([A-Za-z0-9_\-]*)\.([A-Za-z0-9_\-]{8,})"
)
# base64url of "{" is "e" then one of w-z, 0-9, "-", "_": where a JOSE header can start
_HEADER_START = re.compile(r"e[w-z0-9_\-]")
#: at most this many start positions are tried in one candidate (text glued before a token)
_MAX_STARTS = 64
_SECRET_HEADERS = frozenset(
    {"authorization", "x-dyn-elevated-access-token", "cookie", "set-cookie", "proxy-authorization"}
)
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
_COOKIE_ATTRIBUTES = frozenset(
    {
        "expires",
        "max-age",
        "domain",
        "path",
        "samesite",
        "secure",
        "httponly",
        "partitioned",
        "priority",
    }
)
_COOKIE_PAIR = re.compile(r"(?:^|[;,])\s*([^=;,\s]+)=([^;,]*)")
_AUTH_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,19}")
# Control characters confuse terminals and reports: C0 but tab and newline (CR too: a
# bare CR overwrites what a reader sees on the line), DEL, C1 (U+0080-U+009F, CSI among
# them), the bidi marks, overrides and isolates that make text read differently from what it is
# ("Trojan Source"), and the code points XML cannot carry (U+FFFE, U+FFFF, lone
# surrogates): junit.xml must stay well-formed whatever the target sent.
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ufffe\uffff\ud800-\udfff]"
)
#: the private members of a JWK (RSA, EC, OKP, oct)
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")
# Secrets are found by their first characters: an index from that prefix to the secrets
# (longest first) keeps a scrub linear in the text, however many secrets a run holds.
_MIN_SECRET = 8
_CHUNK = 1024
_SECRETS: dict[str, str] = {}  # the text of a secret (or of one spelling of it) -> its label
_WHOLE: set[str] = set()  # the secrets remembered whole (opaque tokens), as given
_BY_PREFIX: dict[str, list[str]] = {}
#: the length of the longest remembered spelling (how far past a cut a secret may reach)
_LONGEST = [0]
#: how far past a window a JWS cut by shape may reach (a signature of 8+ is cut by
#: _CANDIDATE_RE; fewer characters, left verbatim, must stay out of view)
_SIGNATURE_REACH = 64
_SECRETS_LOCK = threading.Lock()
REDACTED = "redacted"
SIGNATURE = "signature cut"


def _spellings(value: str) -> set[str]:
    """``value`` and the forms a target may echo it in."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms |= {quote(value, safe=""), quote_plus(value, safe=""), quote(value)}
    raw = value.encode("utf-8", "surrogatepass")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {f for f in forms if len(f) >= _MIN_SECRET}


def _add(value: str, label: str) -> None:
    with _SECRETS_LOCK:
        for form in _spellings(value):
            if form in _SECRETS:
                continue
            _SECRETS[form] = label
            _LONGEST[0] = max(_LONGEST[0], len(form))
            bucket = _BY_PREFIX.setdefault(form[:_MIN_SECRET], [])
            bucket.append(form)
            bucket.sort(key=len, reverse=True)


def remember_secret(value: str) -> None:
    """Never show ``value`` (a session, access or issued token, a bearer, a cookie, key
    material) in any evidence, in any of the spellings of :func:`_spellings`.

    A compact JWS keeps its header and claims (evidence): only its signature is
    remembered, as a signature to cut. Anything shorter than 8 characters is ignored."""
    if len(value) < _MIN_SECRET:
        return
    parts = value.split(".")
    if len(parts) == 3 and len(parts[2]) >= 16 and value.strip() == value:
        _add(parts[2], SIGNATURE)
    else:
        _add(value, REDACTED)
    with _SECRETS_LOCK:
        _WHOLE.add(value)


#: A value the target chose is remembered only when it is at least this long ...
_TARGET_MIN = 16
# ... and its letters and digits (8+) look random (:func:`_random_run`).
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_SHORT_PIECE = re.compile(r"(?<![a-z])[a-z]{1,2}(?![a-z])|[0-9]+")
# a run of 3+ lower-case letters without a vowel (y counts as one): "mhl", "bzl" in random
# text, where words and names have vowels ("rhythm", "myth" too)
_VOWELLESS = re.compile(r"(?<![a-z])[b-df-hj-np-tv-xz]{3,}(?![a-z])")
_HEX = re.compile(r"[0-9a-f]+")


def _random_run(run: str) -> bool:
    """Whether letters and digits look random: with both cases, 3+ pieces that no word
    has (a run of one or two lower-case letters between capitals or digits, a run of
    digits, a lower-case run without a vowel: ``Xq3kZ9bT``, ``phDmagGmhlRWHPSbzlXQ``),
    where CamelCase words have long lower-case runs with vowels
    (``AcceptedTheForgedAssertion``); in one case only, hex digits or capitals
    interleaved with digits (``3f2a9c1e``, ``JBSWY3DPEHPK3PXP``: 3+ switches). Lower case
    letters past ``f`` with no capital are words or names (``rs256.hs256.pem``)."""
    upper, lower = any(c.isupper() for c in run), any(c.islower() for c in run)
    if upper and lower:
        return len(_SHORT_PIECE.findall(run)) + len(_VOWELLESS.findall(run)) >= 3
    if lower and not _HEX.fullmatch(run):
        return False
    return sum(a.isdigit() != b.isdigit() for a, b in itertools.pairwise(run)) >= 3


def credential_like(value: str) -> bool:
    """Whether ``value`` is shaped like a random credential: 16+ characters, no space,
    and letters and digits (8+, separators left out, or one part between separators)
    that look random. A word (``pass``), a phrase, a case id, a URL, a CamelCase name or
    a repeated letter is not. A value is redacted only where it occurs verbatim, and it
    has no space: a target could at most hide a 16+ character string without spaces that
    looks random — never a verdict, a message or a case id."""
    if len(value) < _TARGET_MIN or any(c.isspace() for c in value):
        return False
    # the whole (a base64url token cut by "-" and "_"), or one part of 8+ (a prefixed
    # token: "opaque-refresh-0d1e2f3a4b5c6d7e", "sk_live_...")
    parts = [_NOT_ALNUM.sub("", value), *_NOT_ALNUM.split(value)]
    return any(len(run) >= 8 and _random_run(run) for run in parts)


def remember_target_secret(value: str) -> None:
    """:func:`remember_secret` for a value the *target* chose (a cookie, a session, an
    issued token, a token member of its answer): remembered only when it is
    :func:`credential_like` (for a compact JWS, its signature). A target that set a
    cookie ``pass`` or issued the token ``the`` would otherwise cut that word from every
    verdict and message of the report. The field it came in is redacted where it is
    recorded whatever its shape (a ``Set-Cookie`` value, an issued token)."""
    parts = value.split(".")
    jws = len(parts) == 3 and len(parts[2]) >= 16 and value.strip() == value
    if credential_like(parts[2] if jws else value):
        remember_secret(value)


def signature_segments(token: str) -> list[str]:
    """The segments of ``token`` that carry a signature (or a JWE's IV, ciphertext and
    tag), however it is malformed: after the second separator (dots, or commas), the
    ``signature`` members of a JSON serialisation, and the base64 runs inside each."""
    found: list[str] = []
    text = token.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            listed = data.get("signatures")
            entries = (
                [data, *(s for s in listed if isinstance(s, dict))]
                if isinstance(listed, list)
                else [data]
            )
            found += [s["signature"] for s in entries if isinstance(s.get("signature"), str)]
            text = ""  # a JSON serialisation: its members are not segments
    for separator in (".", ","):
        parts = text.split(separator)
        if len(parts) >= 3:
            found += [p for p in parts[2:] if p]
            break
    runs = [r for segment in found for r in re.findall(r"[A-Za-z0-9_\-+/]+", segment)]
    return [s for s in dict.fromkeys([*found, *runs]) if len(s) >= _MIN_SECRET]


def remember_assertion(token: str) -> None:
    """Remember the signature segment(s) of an assertion that is about to be sent, so
    that the request and any echo of it are recorded with the signature cut."""
    for segment in signature_segments(token):
        if len(segment) <= _CHUNK:
            _add(segment, SIGNATURE)
            continue
        # A huge segment is remembered in aligned chunks (an echo of it is cut chunk by
        # chunk; JSON and URL escapes are per character, so their chunks align too), and
        # only as far as any bounded text could show it.
        for at in range(0, min(len(segment), _CHUNK * 16), _CHUNK):
            _add(segment[at : at + _CHUNK], SIGNATURE)


#: JSON members of a successful answer that hold a credential (wire-protocol.md, RFC 6749
#: §5.1, OIDC): the value is remembered as a secret wherever the member appears.
TOKEN_MEMBERS = frozenset(
    {
        "jwt",
        "token",
        "elevatedAccessToken",
        "access_token",
        "refresh_token",
        "id_token",
        "session_token",
        "sessionToken",
    }
)
_BODY_DEPTH = 6


def _token_values(value: Any, depth: int = 0) -> list[str]:
    """String values of :data:`TOKEN_MEMBERS` anywhere in decoded JSON (bounded depth),
    and every string that is a compact JWS (its header a JOSE header)."""
    if depth > _BODY_DEPTH:
        return []
    found: list[str] = []
    if isinstance(value, dict):
        for key, member in list(value.items())[:256]:
            if key in TOKEN_MEMBERS and isinstance(member, str):
                found.append(member)
            else:
                found += _token_values(member, depth + 1)
    elif isinstance(value, list):
        for member in value[:256]:
            found += _token_values(member, depth + 1)
    elif isinstance(value, str):
        parts = value.split(".")
        if len(parts) == 3 and is_jose_header(parts[0]):
            found.append(value)
    return found


def remember_body_tokens(body: str) -> list[str]:
    """The credentials a successful answer's JSON body holds (its token members, and any
    compact JWS in it), found by the structure they are recorded in, not guessed from
    prose; each is remembered when it is :func:`credential_like` (so that every echo of
    it is cut too), and the caller redacts them all from this answer's record
    (:func:`redact_values`). A body that is not JSON is left to :func:`scrub`
    (signatures by shape)."""
    text = body.strip()
    if not text.startswith(("{", "[")) or len(text) > 1_000_000:
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return []
    found = _token_values(data)
    for value in found:
        remember_target_secret(value)
    return found


def remember_private_jwk(jwk: Mapping[str, Any]) -> None:
    """Remember the private members of a signing key's JWK (``d``, ``p``..., ``k``)."""
    for member in _PRIVATE_MEMBERS:
        value = jwk.get(member)
        if isinstance(value, str):
            _add(value, REDACTED)


def remember_lines(text: str) -> None:
    """Remember each long line of ``text`` (the base64 body of a PEM private key)."""
    for line in text.splitlines():
        if len(line) >= 16 and not line.startswith("-----"):
            _add(line.strip(), REDACTED)


def is_secret(value: str) -> bool:
    """Whether ``value`` was remembered whole (an opaque token)."""
    with _SECRETS_LOCK:
        return value in _WHOLE or value in _SECRETS


def _redact_secrets(text: str) -> str:
    if len(text) < _MIN_SECRET:
        return text
    out: list[str] = []
    start = i = 0
    end = len(text) - _MIN_SECRET
    with _SECRETS_LOCK:
        if not _BY_PREFIX:
            return text
        while i <= end:
            bucket = _BY_PREFIX.get(text[i : i + _MIN_SECRET])
            hit = next((s for s in bucket if text.startswith(s, i)), None) if bucket else None
            if hit is None:
                i += 1
                continue
            out += [text[start:i], f"[{_SECRETS[hit]}: {len(hit)} chars]"]
            i = start = i + len(hit)
    if not out:
        return text
    out.append(text[start:])
    return "".join(out)


def cut_signature(token: str) -> str:
    """``header.payload.[signature cut: N chars]`` for anything shaped like a JWS."""
    parts = token.split(".")
    if len(parts) < 3 or not parts[-1]:
        return token
    return ".".join(parts[:-1]) + f".[signature cut: {len(parts[-1])} chars]"


def is_jose_header(segment: str) -> bool:
    """Whether ``segment`` is base64url of a JSON object with an ``alg`` member."""
    try:
        header = json.loads(b64url_decode(segment))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(header, dict) and "alg" in header


def _jose_header_at(segment: str) -> int:
    """Where a JOSE header starts in ``segment`` (text may be glued before a token), or -1."""
    for n, match in enumerate(_HEADER_START.finditer(segment)):
        if n >= _MAX_STARTS:
            break
        if is_jose_header(segment[match.start() :]):
            return match.start()
    return -1


def cut_signatures(text: str) -> str:
    """Every compact JWS in ``text`` with its signature cut (header and payload kept).

    Only a candidate whose first segment decodes to a JOSE header (a JSON object with an
    ``alg``) is cut: free text, case ids and other dotted names pass verbatim. A secret
    that is no valid JWS (a forged assertion, an opaque token) is cut by value where it
    is recorded (:func:`scrub`), not here."""
    if "." not in text:
        return text
    out: list[str] = []
    done = pos = 0
    while (match := _CANDIDATE_RE.search(text, pos)) is not None:
        at = _jose_header_at(match[1])
        if at < 0:
            # not a token; one may still start at the next segment ("kid.<JWS>")
            pos = match.start(2)
            continue
        out += [text[done : match.start(3)], f"[signature cut: {len(match[3])} chars]"]
        done = pos = match.end()
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _visible(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """``text`` with every control character of :data:`_CONTROL_RE` a visible escape
    (``\\x0d``, ``\\x9b``, ``\\u202e``); tab and newline are kept."""
    return _CONTROL_RE.sub(_visible, text)


def one_line(text: str) -> str:
    """:func:`inert`, newlines and tabs escaped too (a terminal line, an XML attribute)."""
    return inert(text).replace("\n", "\\n").replace("\t", "\\t")


def scrub(text: str, *, limit: int = BODY_LIMIT) -> str:
    """Redact every remembered secret in ``text``, cut every JWT signature, make control
    characters visible escapes, bound it."""
    # Only what can be shown is scanned (a 1 MB body costs a second otherwise): a window
    # of the first ``limit`` characters and a reach (the longest secret, a signature's
    # shortest cut) past it. What the window cuts in two lies in its last ``reach``
    # characters, left verbatim at the end of the cleaned window: the window is enough
    # only when those stay past ``limit`` (redactions earlier in it shrink the text and
    # would pull a secret's cut-off prefix into view); else a window four times as long
    # is tried, up to the whole text (a body echoing a secret a thousand times).
    reach = max(_LONGEST[0], _SIGNATURE_REACH) + 1
    size = limit + reach
    while len(text) > size:
        window = text[:size]
        shown = _clean(window)
        if len(shown) - len(inert(window[-reach:])) >= limit:
            dropped = len(text) - len(window)
            return shown[:limit] + f"…[truncated {len(shown) - limit + dropped} chars]"
        size *= 4
    text = _clean(text)
    if len(text) > limit:
        text = text[:limit] + f"…[truncated {len(text) - limit} chars]"
    return text


def _clean(text: str) -> str:
    return inert(cut_signatures(_redact_secrets(text)))


def _cookie_pairs(value: str) -> list[tuple[str, str]]:
    """(name, value) of each cookie in a ``Cookie``/``Set-Cookie`` value."""
    return [
        (name, cookie.strip().strip('"'))
        for name, cookie in _COOKIE_PAIR.findall(value)
        if name.lower() not in _COOKIE_ATTRIBUTES
    ]


def header_credentials(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The credentials (name, value) ``headers`` carry: bearers, elevated tokens, cookie
    values."""
    found: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower in _COOKIE_HEADERS:
            found += [cookie for _, cookie in _cookie_pairs(value)]
        elif lower in _SECRET_HEADERS:
            scheme, _, rest = value.strip().partition(" ")
            found.append(value.strip())
            if rest and _AUTH_SCHEME.fullmatch(scheme):
                found.append(rest.strip())
    return found


def remember_header_secrets(headers: Mapping[str, str]) -> None:
    """Remember the credentials ``headers`` carry (bearers, elevated tokens, cookies):
    the target chose them (a cookie, the session it issued), so only those that are
    :func:`credential_like` are remembered (the header itself is always redacted)."""
    for value in header_credentials(headers.items()):
        remember_target_secret(value)


def redact_values(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` (in the spellings a target may echo it in)
    redacted, without remembering them: for values an untrusted party chose."""
    forms = sorted({f for v in values if len(v) >= _MIN_SECRET for f in _spellings(v)}, key=len)
    for form in reversed(forms):
        text = text.replace(form, f"[{REDACTED}]")
    return text


def redact_headers(
    headers: Mapping[str, str], *, untrusted: Sequence[str] | None = None
) -> dict[str, str]:
    """Header values that carry credentials become a short, unusable preview (the auth
    scheme, the cookie names); every credential is remembered as a secret first, so an
    echo of it anywhere else is redacted too.

    ``untrusted``: the headers come from a party the run does not trust (a request to the
    listener); nothing is remembered — that party would choose what the whole run's
    evidence hides — and these credentials are cut from the other values instead."""
    if untrusted is None:
        remember_header_secrets(headers)
    out: dict[str, str] = {}
    for name, value in headers.items():
        lower = one_line(name.lower())[:128]
        if lower in _COOKIE_HEADERS:
            names = [one_line(n)[:64] for n, _ in _cookie_pairs(value)]
            out[lower] = "; ".join(f"{n}=[redacted]" for n in names) or "[redacted]"
        elif lower in _SECRET_HEADERS:
            scheme, _, rest = value.strip().partition(" ")
            shown = f"{scheme} " if rest and _AUTH_SCHEME.fullmatch(scheme) else ""
            out[lower] = f"{shown}[redacted]"
        else:
            out[lower] = one_line(scrub(redact_values(value, untrusted or ()), limit=512))
    return out


def decode_token(token: str | None, *, secret: bool = False) -> dict[str, Any] | None:
    """A token as evidence: decoded header and claims, signature cut; else a preview with
    every signature segment cut — or, for a ``secret`` (an issued token) or a remembered
    one, only its length."""
    if token is None:
        return None
    secret = secret or is_secret(token)
    parts = token.split(".")
    if len(parts) == 3:
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass  # deeply nested or broken JSON: shown as a preview instead
        else:
            return {
                "header": _jsonable(header),
                "claims": _jsonable(claims),
                "signature": f"[cut: {len(parts[2])} chars]",
            }
    if secret:
        return {"opaque": f"[redacted: {len(token)} chars]"}
    # the signature segments are cut before the preview is bounded: a cut in the middle
    # of a signature would leave its prefix unrecognised
    shown = scrub(_cut_segments(token), limit=4 * len(token) + 64)
    return {"raw_preview": shown[:120] + ("…" if len(shown) > 120 else "")}


def _cut_segments(token: str) -> str:
    """``token`` with each of its :func:`signature_segments` replaced by a cut marker."""
    for segment in sorted(signature_segments(token), key=len, reverse=True):
        token = token.replace(segment, f"[signature cut: {len(segment)} chars]")
    return token


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Bound decoded JSON so a hostile 10 MB claim or deep nesting cannot bloat the results."""
    if depth > 8 and isinstance(value, dict | list):
        return "[nested too deep]"
    if isinstance(value, str):
        return scrub(value, limit=512)
    if isinstance(value, dict):
        items = list(value.items())[:64]
        return {scrub(str(k), limit=128): _jsonable(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        return [_jsonable(v, depth + 1) for v in value[:64]]
    return value
