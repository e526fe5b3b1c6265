from __future__ import annotations

import json

from conformance._redact import (
    cut_signature,
    cut_signatures,
    decode_token,
    redact_headers,
    scrub,
)
from conformance.forge import b64url_encode, compact
from conformance.targets.base import Exchange

TOKEN = compact({"alg": "HS256"}, {"sub": "alice"}, key=b"k" * 32)


def test_cut_signature_keeps_header_and_payload_but_not_the_signature() -> None:
    head, body, sig = TOKEN.split(".")
    cut = cut_signature(TOKEN)
    assert cut.startswith(f"{head}.{body}.")
    assert sig not in cut
    assert f"[signature cut: {len(sig)} chars]" in cut


def test_scrub_cuts_every_jwt_in_free_text() -> None:
    sig = TOKEN.split(".")[2]
    text = f'{{"elevatedAccessToken": "{TOKEN}", "again": "{TOKEN}"}}'
    out = scrub(text)
    assert sig not in out
    assert out.count("[signature cut:") == 2


def test_scrub_neutralises_control_characters_and_bounds_length() -> None:
    out = scrub("\x1b[31mred\x00" + "x" * 5000, limit=100)
    assert "\x1b" not in out and "\x00" not in out
    assert "\\x1b[31mred" in out
    assert out.endswith("chars]") and "[truncated" in out


def test_redact_headers_hides_credentials_only() -> None:
    out = redact_headers(
        {"Authorization": f"Bearer {TOKEN}", "X-Dyn-Elevated-Access-Token": TOKEN, "Accept": "json"}
    )
    assert out == {
        "authorization": "Bearer [redacted]",
        "x-dyn-elevated-access-token": "[redacted]",
        "accept": "json",
    }


def test_decode_token_shows_claims_without_signature() -> None:
    decoded = decode_token(TOKEN)
    assert decoded == {
        "header": {"alg": "HS256"},
        "claims": {"sub": "alice"},
        "signature": f"[cut: {len(TOKEN.split('.')[2])} chars]",
    }


def test_decode_token_previews_what_does_not_decode() -> None:
    garbage = "not-a-jwt" + "A" * 300
    decoded = decode_token(garbage)
    assert decoded is not None and set(decoded) == {"raw_preview"}
    assert len(decoded["raw_preview"]) <= 121


def test_decode_token_bounds_hostile_claims() -> None:
    payload = b64url_encode(('{"x":"' + "y" * 100000 + '"}').encode())
    token = f"{b64url_encode(b'{}')}.{payload}.c2lnbmF0dXJl"
    decoded = decode_token(token)
    assert decoded is not None
    assert len(decoded["claims"]["x"]) < 600


def test_decode_token_survives_deeply_nested_json() -> None:
    deep = b64url_encode(b"[" * 100000 + b"]" * 100000)
    decoded = decode_token(f"{deep}.{deep}.c2lnbmF0dXJl")
    assert decoded is not None and "raw_preview" in decoded
    nested = b64url_encode(("{" + '"a":{' * 50 + "}" * 51).encode())
    decoded = decode_token(f"{nested}.{nested}.c2lnbmF0dXJl")
    assert decoded is not None and "[nested too deep]" in str(decoded)


def test_dotted_names_are_not_mistaken_for_tokens() -> None:
    # case ids have three dotted parts too; a JOSE header starts "e" + one of w-z, 0-9, -, _
    ids = "header.jku.attacker_url envelope.session.missing_bearer encoding.json.header_utf8_bom"
    assert cut_signatures(ids) == ids


def test_a_token_glued_behind_lookalikes_is_still_cut() -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLWJ5dGVz"
    for text in (f"A{token}", f"eade.x.{token}", f"eade{token}", f"header.jku.{token}"):
        cut = cut_signatures(text)
        assert "c2lnbmF0dXJlLWJ5dGVz" not in cut, text
        assert cut.endswith("[signature cut: 20 chars]")


def test_only_a_jose_header_makes_a_candidate_a_token() -> None:
    # shaped like a JWS, and even starting like base64url of "{", but not a JOSE header
    for text in (
        "ewxx.keys.abcdefghijkl",
        "e0_layout.case_id.more_than_eight",
        "header.jwk.es256_attacker_kid",
        f"{b64url_encode(b'{}')}.{b64url_encode(b'{}')}.c2lnbmF0dXJlLWJ5dGVz",
        f"{b64url_encode(b'[1]')}.e30.c2lnbmF0dXJlLWJ5dGVz",
    ):
        assert cut_signatures(text) == text, text
    header = b64url_encode(b'{"typ":"JWT","alg":"none"}')
    jose = f"{header}.e30.c2lnbmF0dXJlLWJ5dGVz"
    assert cut_signatures(jose).endswith(".e30.[signature cut: 20 chars]")


def test_a_token_behind_several_dotted_lookalikes_is_cut() -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLWJ5dGVz"
    text = f"see header.kid.sql_union.{token} and algorithms.none.lowercase.empty_signature"
    cut = cut_signatures(text)
    assert "c2lnbmF0dXJlLWJ5dGVz" not in cut
    assert cut.endswith("and algorithms.none.lowercase.empty_signature")
    assert "header.kid.sql_union.eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.[signature cut" in cut


def test_a_long_run_without_dots_is_scanned_in_linear_time() -> None:
    # a quadratic scan of 2 MB would take minutes; one pass takes milliseconds
    text = "e" + "w" * 2_000_000 + ". " + "a.b"
    assert cut_signatures(text) == text


def test_tokens_in_a_successful_json_answer_are_cut_by_structure() -> None:
    from conformance.targets._evidence import recorded

    opaque = "opaque-refresh-0d1e2f3a4b5c6d7e"
    body = json.dumps(
        {"access_token": "at-9f8e7d6c5b4a39281706", "nested": {"refresh_token": opaque}}
    )
    exchange = recorded(
        label="attempt",
        method="POST",
        url="http://127.0.0.1:1/token",
        request_headers={},
        request_body="",
        status=200,
        response_headers={"content-type": "application/json"},
        response_body=body,
        latency_ms=1.0,
        assertion=None,
        issued=None,
    )
    assert opaque not in exchange.response_body
    assert "at-9f8e7d6c5b4a39281706" not in exchange.response_body
    assert scrub(f"echo: {opaque}") == f"echo: [redacted: {len(opaque)} chars]"


def test_a_refusal_body_is_not_taken_for_credentials() -> None:
    from conformance.targets._evidence import recorded

    body = json.dumps({"error": "invalid_grant", "token": "not-a-credential-just-an-echo-1"})
    exchange = recorded(
        label="attempt",
        method="POST",
        url="http://127.0.0.1:1/token",
        request_headers={},
        request_body="",
        status=400,
        response_headers={},
        response_body=body,
        latency_ms=1.0,
        assertion=None,
        issued=None,
    )
    assert "not-a-credential-just-an-echo-1" in exchange.response_body


# -- values a target chose: remembered only when shaped like a credential --------------------


def _hostile_answer(cookies: list[str], issued: str, body_token: str) -> Exchange:
    from conformance.targets._evidence import recorded  # lazy: an adapter module

    return recorded(
        label="attempt",
        method="POST",
        url="http://127.0.0.1:1/x",
        request_headers={"authorization": f"Bearer {issued}"},
        request_body="",
        status=200,
        response_headers={"set-cookie": "; ".join(f"c{i}={v}" for i, v in enumerate(cookies))},
        response_body=json.dumps({"access_token": body_token, "jwt": body_token}),
        latency_ms=1.0,
        assertion=None,
        issued=issued,
    )


def test_a_target_cannot_steer_redaction_into_verdict_text() -> None:
    """A cookie, an issued token or a token member whose value is a word (or a phrase, a
    case id, a CamelCase name) must not cut that text from the whole report."""
    words = [
        "verdictword",
        "the verdict passed here",
        "errors.hygiene.every_refusal_discloses_nothing",
        "AcceptedTheForgedAssertion",
        "aaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]
    exchange = _hostile_answer(
        words, issued="rejectedrejectedrejected", body_token="expected-refusal-text"
    )
    verdicts = " | ".join([*words, "rejectedrejectedrejected", "expected-refusal-text"])
    assert scrub(verdicts) == verdicts
    # ... while the answer's own record still shows none of them (redacted in place)
    assert "expected-refusal-text" not in exchange.response_body
    assert exchange.response_headers["set-cookie"].count("[redacted]") == len(words)


def test_random_tokens_without_digits_are_credentials_and_names_are_not() -> None:
    """A token_urlsafe(16) with no digit and one short piece was taken for a word (about
    1 in 110 draws): its consonant runs ("mhl", "bzl") are what no word or name has."""
    from conformance._redact import credential_like

    for token in ("ph_DmagGmhlRWHPSbzlX_Q", "UhzeGmhdhxQbtOqrvymEAx"):
        assert credential_like(token), token
    for name in (
        "AcceptedTheForgedAssertion",
        "HTTPServerErrorCode",
        "XMLHttpRequestHandler",
        "RSASSAPSSSignatureVerify",
        "NthRhythmMythTokenValue",
        "WWWAuthenticateHeader",
    ):
        assert not credential_like(name), name


def test_a_credential_a_target_chose_is_still_cut_everywhere() -> None:
    cookie, issued, member = "k3Fz9QpL2xWv7Rb1", "9f86d081884c7d659a2f", "Q2x7-Rt5Kp0z_Lm3Vb8N"
    _hostile_answer([cookie], issued=issued, body_token=member)
    out = scrub(f"echo {cookie} {issued} {member}")
    assert cookie not in out and issued not in out and member not in out
    assert out.count("[redacted:") == 3


def test_scrub_never_pulls_a_secret_cut_by_its_window_into_view() -> None:
    # scrub cleans only a window of the text (limit + the longest secret); secrets
    # redacted early in it shrink it, and a secret the window cut in two must not slide
    # into the shown part as a prefix nobody recognised
    from conformance._redact import _LONGEST, remember_secret

    first = "Fq7" + "Zk3pQ9xW" * 125
    second = "Gm5" + "Rt8vN2yL" * 125
    remember_secret(first)
    remember_secret(second)
    window = 4096 + _LONGEST[0] + 1
    text = first * 4 + "x" * (window - 4000 - 500) + second + "y" * 5000
    out = scrub(text)
    assert second[:16] not in out and first[:16] not in out
    assert out.count("[redacted: 1003 chars]") == 5
    # the window alone still decides when nothing shrinks it: the count stays exact
    plain = scrub("z" * 100_000, limit=100)
    assert plain == "z" * 100 + "…[truncated 99900 chars]"


def test_scrub_of_a_body_echoing_a_secret_many_times_shows_none_of_it() -> None:
    from conformance._redact import remember_secret

    secret = "Hv4" + "Qp7sK2mZ" * 40
    remember_secret(secret)
    out = scrub((secret + "-") * 3000, limit=1000)
    assert secret[:16] not in out and len(out) < 1100
    assert out.startswith("[redacted: 323 chars]-[redacted: 323 chars]-")
    assert "…[truncated " in out[1000:]
