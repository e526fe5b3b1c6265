"""The keys of a run: trusted (published), rotation, attacker, weak and user-provided keys.

Every key is bound to exactly one JWS algorithm, and its public JWK says so (``alg``,
``use: "sig"``), so a target can select keys by ``kid`` *and* ``alg``. Keys are
generated lazily and once per run (RSA generation costs ~30 ms a key; see style.md), and
the kid scheme is readable and stable across runs::

    trusted-es256-1    the published key for ES256
    rotation-es256-2   the second trusted ES256 key, published only by ``publish``/``rotate``
    attacker-es256     never published (served only on the attacker JWKS path)
    other-es256-1      the keys of a second environment (another JWKS path)
    weak-rs256-1024    a 1024-bit RSA key (RS256) that a correct target never uses
    hmac-hs256         a random shared secret (kty ``oct``)

:func:`load_signing_key` loads the user's own key (PEM or JWK, from a file or an
environment variable) and raises :class:`ConfigError` with one line that never echoes key
material.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._jose import SigningKey, b64url_encode
from ._redact import remember_lines, remember_private_jwk
from ._settings import ALLOWED_ALGS

#: The asymmetric algorithms of the reference policy's allow-list, in report order.
ALGS: tuple[str, ...] = ALLOWED_ALGS
HMAC_ALGS: tuple[str, ...] = ("HS256", "HS384", "HS512")

_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_CURVE_ALGS = {crv: alg for alg, crv in _EC_CURVES.items()}
# RFC 7638 §3.2: the required members of each kty, the only ones a thumbprint hashes.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


def _check_alg(alg: str, allowed: tuple[str, ...] = ALGS) -> None:
    if alg not in allowed:
        raise ValueError(f"unknown alg {alg!r}; expected one of {', '.join(allowed)}")


def kty_for(alg: str) -> str:
    """The JWK ``kty`` an ``alg`` needs. Raises ``ValueError`` for an alg outside
    :data:`ALGS` and :data:`HMAC_ALGS`."""
    _check_alg(alg, ALGS + HMAC_ALGS)
    if alg.startswith(("RS", "PS")):
        return "RSA"
    if alg.startswith("ES"):
        return "EC"
    if alg == "EdDSA":
        return "OKP"
    return "oct"


def check_algs(algs: Sequence[str]) -> tuple[str, ...]:
    """``algs`` (the algorithms a target has keys for) as a tuple without repeats; raises
    :class:`ConfigError` (one line) for none, or for one outside :data:`ALGS`."""
    chosen = tuple(dict.fromkeys(algs))
    unknown = [alg for alg in chosen if alg not in ALGS]
    if unknown:
        raise ConfigError(f"unknown algorithm {unknown[0][:20]!r}; choose from {', '.join(ALGS)}")
    if not chosen:
        raise ConfigError(f"no algorithm given; choose from {', '.join(ALGS)}")
    return chosen


#: How a skip reason names a key family (a JWK ``kty``).
FAMILIES: Mapping[str, str] = {"RSA": "RSA", "EC": "EC (ECDSA)", "OKP": "Ed25519 (OKP)"}


def _families(algs: Sequence[str]) -> str:
    return " or ".join(dict.fromkeys(kty_for(alg) for alg in algs))


def missing_key(wanted: str | Sequence[str], has: Sequence[str]) -> str:
    """The reason a case skips when the target has no trusted key for ``wanted`` (a
    family: a ``kty`` of :data:`FAMILIES`; or one or more algorithms, any of which would
    do), given the algorithms ``has`` of the keys it does have; both name the families::

        needs an EC (ECDSA) key registered at the target; this target has RS256 (RSA)
        needs a PS256 or PS384 key (RSA) registered at the target; this target has ES256 (EC)
    """
    if isinstance(wanted, str) and wanted in FAMILIES:
        name = f"{FAMILIES[wanted]} key"
    else:
        algs = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        listed = algs[0] if len(algs) == 1 else f"{', '.join(algs[:-1])} or {algs[-1]}"
        name = f"{listed} key ({_families(algs)})"
    article = "a" if name.startswith("P") else "an"
    held = ", ".join(f"{alg} ({kty_for(alg)})" for alg in has) or "no key"
    return f"needs {article} {name} registered at the target; this target has {held}"


def _generate_private(alg: str, *, rsa_bits: int) -> Any:
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    kty = kty_for(alg)
    if kty == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if kty == "EC":
        curves: dict[str, ec.EllipticCurve] = {
            "P-256": ec.SECP256R1(),
            "P-384": ec.SECP384R1(),
            "P-521": ec.SECP521R1(),
        }
        return ec.generate_private_key(curves[_EC_CURVES[alg]])
    if kty == "OKP":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"{alg} keys are secrets, not key pairs")


def _key_jwk(key_object: Any) -> dict[str, Any]:
    """The JWK members of a ``cryptography`` key object (private members if private)."""
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    if isinstance(key_object, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return dict(RSAAlgorithm.to_jwk(key_object, as_dict=True))
    if isinstance(key_object, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return dict(ECAlgorithm.to_jwk(key_object, as_dict=True))
    if isinstance(key_object, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return dict(OKPAlgorithm.to_jwk(key_object, as_dict=True))
    raise TypeError(f"no JWK for {type(key_object).__name__}")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint (base64url) of an RSA, EC or OKP JWK.

    Raises ``ValueError`` for another ``kty`` or a JWK missing a required member.
    """
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(m not in jwk for m in members):
        raise ValueError("thumbprint needs an RSA, EC or OKP JWK with its required members")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def _public_jwk(private: Any, *, kid: str, alg: str) -> dict[str, Any]:
    # kid, use and alg first: a JWKS is read by people too.
    return {"kid": kid, "use": "sig", "alg": alg, **_key_jwk(private.public_key())}


def make_key(
    alg: str, *, kid: str | None = None, role: str = "user", rsa_bits: int = 2048
) -> SigningKey:
    """Generate a fresh :class:`SigningKey` for ``alg`` (``kid`` defaults to the RFC 7638
    thumbprint). Raises ``ValueError`` for an alg outside :data:`ALGS` and
    :data:`HMAC_ALGS`."""
    kty = kty_for(alg)
    if kty == "oct":
        # A secret as long as the hash: shorter ones are weak (RFC 7518 §3.2), and
        # PyJWT warns on them.
        secret = secrets.token_bytes(int(alg[2:]) // 8)
        chosen = kid or f"hmac-{alg.lower()}"
        jwk = {"kid": chosen, "use": "sig", "alg": alg, "kty": "oct"}
        return SigningKey(chosen, alg, kty, secret, jwk, role)
    private = _generate_private(alg, rsa_bits=rsa_bits)
    chosen = kid or thumbprint(_key_jwk(private.public_key()))
    return SigningKey(chosen, alg, kty, private, _public_jwk(private, kid=chosen, alg=alg), role)


def private_jwk(key: SigningKey) -> dict[str, Any]:
    """The full private JWK of ``key`` (with ``d``, or ``k`` for a secret). It is secret:
    write it to a 0600 file, never to a log."""
    if isinstance(key.private_key, bytes | bytearray):
        return {**key.public_jwk, "k": b64url_encode(bytes(key.private_key))}
    return {"kid": key.kid, "use": "sig", "alg": key.alg, **_key_jwk(key.private_key)}


def remember_key(key: SigningKey) -> None:
    """Never show the private material of ``key`` in any evidence: its private JWK
    members and the base64 lines of its PKCS#8 PEM (see :mod:`conformance._redact`)."""
    remember_private_jwk(private_jwk(key))
    if not isinstance(key.private_key, bytes | bytearray):
        # lazy: the catalog imports this module; it loads without cryptography
        from cryptography.hazmat.primitives import serialization

        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        remember_lines(pem.decode("ascii"))


def self_signed_certificate(key: SigningKey, *, common_name: str = "conformance") -> bytes:
    """A DER X.509 certificate for ``key``'s public key, self-signed with it (for ``x5u``
    and ``x5c`` cases). Raises ``TypeError`` for an HMAC key."""
    # lazy: the catalog imports this module; it loads without cryptography
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    if isinstance(key.private_key, bytes | bytearray):
        raise TypeError("an HMAC secret has no certificate")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    # Ed25519 signs without a separate hash; the others use the alg's hash.
    digests: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
        "256": hashes.SHA256(),
        "384": hashes.SHA384(),
        "512": hashes.SHA512(),
    }
    digest = None if key.kty == "OKP" else digests[key.alg[-3:]]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private_key, digest)
    )
    return cert.public_bytes(serialization.Encoding.DER)


class Keyring:
    """The keys of one run, generated lazily, once per (role, alg), thread-safe.

    ``published_algs`` are the algorithms whose trusted key :meth:`published_jwks`
    publishes by default (all of :data:`ALGS`). Asking for an alg outside :data:`ALGS`
    (or :data:`HMAC_ALGS` for :meth:`hmac`) raises ``ValueError``.
    """

    def __init__(self, *, published_algs: tuple[str, ...] = ALGS, rsa_bits: int = 2048) -> None:
        for alg in published_algs:
            _check_alg(alg)
        self._published_algs = tuple(published_algs)
        self._rsa_bits = rsa_bits
        self._lock = threading.RLock()
        self._keys: dict[tuple[str, str], SigningKey] = {}
        self._extra: dict[str, SigningKey] = {}  # published by publish(), by kid
        self._revoked: set[str] = set()
        self._certs: dict[str, bytes] = {}
        self._generated = 0

    def __repr__(self) -> str:
        with self._lock:
            kids = sorted(k.kid for k in self._keys.values())
        return f"Keyring(kids={kids!r}, revoked={sorted(self._revoked)!r})"

    @property
    def generated(self) -> int:
        """How many keys this keyring generated (each (role, alg) at most once)."""
        with self._lock:
            return self._generated

    @property
    def published_algs(self) -> tuple[str, ...]:
        return self._published_algs

    @property
    def trusted_algs(self) -> tuple[str, ...]:
        """The algorithms of the keys the target trusts (the published ones here): a
        case needing another algorithm's trusted key skips (``authoring.trusted_key``)."""
        return self._published_algs

    def missing(self, wanted: str | Sequence[str]) -> str:
        """Why a case needing a trusted key for ``wanted`` (a family or algorithms, see
        :func:`missing_key`) cannot run against this target."""
        return missing_key(wanted, self.trusted_algs)

    def _get(self, role: str, alg: str, kid: str, *, bits: int | None = None) -> SigningKey:
        with self._lock:
            cached = self._keys.get((role, alg))
            if cached is None:
                cached = make_key(alg, kid=kid, role=role, rsa_bits=bits or self._rsa_bits)
                remember_key(cached)
                self._keys[(role, alg)] = cached
                self._generated += 1
            return cached

    def trusted(self, alg: str = "ES256") -> SigningKey:
        """The published key for ``alg`` (kid ``trusted-<alg>-1``)."""
        _check_alg(alg)
        return self._get("trusted", alg, f"trusted-{alg.lower()}-1")

    def rotation(self, alg: str = "ES256") -> SigningKey:
        """A second trusted key for ``alg`` (kid ``rotation-<alg>-2``), unpublished until
        someone calls :meth:`publish` with it."""
        _check_alg(alg)
        return self._get("rotation", alg, f"rotation-{alg.lower()}-2")

    def attacker(self, alg: str = "ES256") -> SigningKey:
        """A key that is never in the trusted JWKS (kid ``attacker-<alg>``)."""
        _check_alg(alg)
        return self._get("attacker", alg, f"attacker-{alg.lower()}")

    def other_environment(self, alg: str = "ES256") -> SigningKey:
        """A trusted key of a second environment (kid ``other-<alg>-1``)."""
        _check_alg(alg)
        return self._get("other-env", alg, f"other-{alg.lower()}-1")

    def weak_rsa(self) -> SigningKey:
        """A 1024-bit RSA key for RS256 (kid ``weak-rs256-1024``): a correct target never
        uses an RSA key under 2048 bits."""
        return self._get("weak", "RS256", "weak-rs256-1024", bits=1024)

    def hmac(self, alg: str = "HS256") -> SigningKey:
        """A random shared secret as long as the hash (kid ``hmac-<alg>``)."""
        _check_alg(alg, HMAC_ALGS)
        return self._get("hmac", alg, f"hmac-{alg.lower()}")

    def certificate(self, key: SigningKey) -> bytes:
        """A self-signed DER certificate for ``key``, made once per kid."""
        with self._lock:
            cert = self._certs.get(key.kid)
            if cert is None:
                cert = self._certs[key.kid] = self_signed_certificate(key)
            return cert

    def fork(self) -> Keyring:
        """A keyring with the same keys (generated once, shared from now on) and a
        published set of its own: what :meth:`publish` and :meth:`revoke` do to one is
        not seen by the other (a second environment with the same registered keys)."""
        twin = copy.copy(self)
        with self._lock:
            twin._extra = dict(self._extra)
            twin._revoked = set(self._revoked)
        return twin

    def publish(self, key: SigningKey) -> None:
        """Add ``key`` to the trusted JWKS (and undo an earlier :meth:`revoke` of its kid).
        Raises ``ValueError`` for an HMAC key: a JWKS here is public."""
        if key.kty == "oct":
            raise ValueError("an HMAC secret cannot be published in a public JWKS")
        with self._lock:
            self._extra[key.kid] = key
            self._revoked.discard(key.kid)

    def revoke(self, kid: str) -> None:
        """Remove ``kid`` from the trusted JWKS from now on (an unknown kid is a no-op)."""
        with self._lock:
            self._revoked.add(kid)

    def published(self) -> list[SigningKey]:
        """The keys :meth:`published_jwks` publishes, in order."""
        keys = [self.trusted(alg) for alg in self._published_algs]
        with self._lock:
            seen = {k.kid for k in keys}
            keys += [k for kid, k in self._extra.items() if kid not in seen]
            return [k for k in keys if k.kid not in self._revoked]

    def published_jwks(self) -> dict[str, Any]:
        """The trusted JWKS: every published alg's trusted key, plus :meth:`publish`-ed
        keys, minus :meth:`revoke`-d kids. A fresh dict each call."""
        return _jwks(self.published())

    def other_jwks(self) -> dict[str, Any]:
        """The second environment's JWKS: its key for every published alg."""
        return _jwks([self.other_environment(alg) for alg in self._published_algs])

    def attacker_jwks(self) -> dict[str, Any]:
        """The attacker's JWKS: the attacker keys made so far (at least the ES256 one)."""
        self.attacker("ES256")
        with self._lock:
            keys = [k for (role, _), k in self._keys.items() if role == "attacker"]
        return _jwks(keys)


def _jwks(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [dict(k.public_jwk) for k in keys]}


# --- loading the user's own key -------------------------------------------------------


def _read_source(source: str) -> bytes:
    if source.startswith("env:"):
        name = source[4:]
        if not name:
            raise ConfigError(f"key source {source!r} names no variable; use env:NAME")
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"environment variable {name} (key source {source}) is not set or empty; "
                "export it with the PEM or JWK text of the signing key"
            )
        return value.encode("utf-8")
    path = Path(source).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"key file {source} does not exist; create one with 'conformance keys new' "
            "or fix the path"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read key file {source} ({exc.strerror}); fix the path or its permissions"
        ) from None


def _parse_jwk(data: bytes, source: str) -> tuple[Any, Mapping[str, Any]]:
    # lazy: the catalog imports this module; it loads without cryptography
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    try:
        jwk = json.loads(data)
    except ValueError:
        raise ConfigError(
            f"key source {source} is neither PEM nor valid JWK JSON; give a private key"
        ) from None
    if not isinstance(jwk, dict):
        raise ConfigError(f"key source {source} is JSON but not a JWK object; give one private JWK")
    if "keys" in jwk:
        raise ConfigError(
            f"key source {source} is a JWKS, not one key; give the private JWK of the signing key"
        )
    kty = jwk.get("kty")
    if kty == "oct":
        raise ConfigError(
            f"key source {source} is a symmetric (oct) key; give an RSA, EC or Ed25519 private key"
        )
    if "d" not in jwk:
        raise ConfigError(
            f"key source {source} is a public key; give the private key (its JWK has a 'd' member)"
        )
    crv = jwk.get("crv")
    if (kty == "EC" and crv not in _CURVE_ALGS) or (kty == "OKP" and crv != "Ed25519"):
        raise ConfigError(
            f"key source {source} uses unsupported curve {str(crv)[:16]!r}; "
            "use P-256, P-384, P-521 or Ed25519"
        )
    loader: Any = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}.get(str(kty))
    if loader is None:
        raise ConfigError(
            f"key source {source} has unsupported kty {str(kty)[:10]!r}; give an RSA, EC or OKP key"
        )
    try:
        key = loader.from_jwk(json.dumps(jwk))
    except Exception:
        # The library's message may quote members of the key: never echo it.
        raise ConfigError(
            f"key source {source} is not a usable {kty} private JWK; check its members"
        ) from None
    return key, jwk


def _parse_pem(data: bytes, source: str) -> Any:
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives import serialization

    if b"-----BEGIN" in data:
        if b"PUBLIC KEY-----" in data or b"CERTIFICATE-----" in data:
            raise ConfigError(
                f"key source {source} holds a public key or certificate; give the private key"
            )
        load = serialization.load_pem_private_key
    else:
        load = serialization.load_der_private_key
    try:
        return load(data, password=None)
    except TypeError:
        raise ConfigError(
            f"key source {source} is encrypted; "
            "decrypt it (openssl pkey -in KEY -out PLAIN) and point at that"
        ) from None
    except Exception:
        raise ConfigError(f"key source {source} is not a PEM, DER or JWK private key") from None


def _infer_alg(private: Any, source: str) -> str:
    # lazy: the catalog imports this module; it loads without cryptography
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(private, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(private, ec.EllipticCurvePrivateKey):
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(
            private.curve.name
        )
        if crv is None:
            raise ConfigError(
                f"key source {source} uses unsupported curve {private.curve.name}; "
                "use P-256, P-384 or P-521"
            )
        return _CURVE_ALGS[crv]
    raise ConfigError(
        f"key source {source} is a {type(private).__name__.lstrip('_')} key; "
        "use an RSA, EC or Ed25519 key"
    )


def load_signing_key(source: str, *, kid: str | None = None, alg: str | None = None) -> SigningKey:
    """Load the user's signing key (role ``"user"``).

    ``source`` is a file path or ``env:NAME`` (the variable holds the text); the content is
    a PEM (PKCS#8 or traditional), a DER or a private JWK. ``alg`` defaults to the JWK's
    ``alg``, else is inferred from the key (EC curve → ES*, Ed25519 → EdDSA, RSA → RS256);
    ``kid`` defaults to the JWK's ``kid``, else to the RFC 7638 thumbprint.

    Raises :class:`ConfigError` (one line naming ``source``, never key material) when the
    source is missing or unreadable, is not a private key, uses an unsupported key type or
    curve, or ``alg`` does not fit the key.
    """
    data = _read_source(source)
    jwk: Mapping[str, Any] = {}
    if data.lstrip().startswith(b"{"):
        private, jwk = _parse_jwk(data, source)
    else:
        private = _parse_pem(data, source)
    inferred = _infer_alg(private, source)
    jwk_alg = jwk.get("alg")
    chosen = alg or (jwk_alg if isinstance(jwk_alg, str) else None) or inferred
    if chosen not in ALGS:
        raise ConfigError(
            f"alg {chosen[:20]!r} for key source {source} is not one of {', '.join(ALGS)}"
        )
    if kty_for(chosen) != kty_for(inferred) or (chosen.startswith("ES") and chosen != inferred):
        raise ConfigError(
            f"alg {chosen} does not fit the key of {source} (a {inferred}-capable key); fix alg"
        )
    if alg is not None and isinstance(jwk_alg, str) and jwk_alg != alg:
        raise ConfigError(
            f"alg {alg} contradicts the JWK alg {jwk_alg[:20]} of {source}; drop one of them"
        )
    jwk_kid = jwk.get("kid")
    chosen_kid = kid or (jwk_kid if isinstance(jwk_kid, str) and jwk_kid else None)
    public = _key_jwk(private.public_key())
    chosen_kid = chosen_kid or thumbprint(public)
    key = SigningKey(
        kid=chosen_kid,
        alg=chosen,
        kty=kty_for(chosen),
        private_key=private,
        public_jwk={"kid": chosen_kid, "use": "sig", "alg": chosen, **public},
        role="user",
    )
    remember_key(key)
    return key
