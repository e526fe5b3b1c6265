"""What the suite knows about its target: the settings every case reads."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The asymmetric JWS algorithms of the reference policy's allow-list (exact case), in
#: report order: the keyring makes one key for each, the emulator accepts them, the oracle
#: and the catalog judge by them.
ALLOWED_ALGS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)

#: TokenScope values of @dynamic-labs/sdk-api-core 0.40.0 (wire-protocol.md); override with
#: ``known_scopes`` for newer SDKs.
KNOWN_SCOPES: tuple[str, ...] = (
    "wallet:export",
    "wallet:delete",
    "wallet:refresh",
    "wallet:reshare",
    "wallet:delegate",
    "wallet:sign",
    "wallet:restore",
    "user:update",
    "user:delete",
    "credential:link",
    "credential:update",
    "credential:unlink",
    "business_account:member:add",
    "console:project:delete",
)


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """The facts of one target that cases need (no secrets here)."""

    profile: str = "dynamic"  # "dynamic" | "rfc7523"
    base_url: str = ""
    environment_id: str = ""
    issuer: str = ""
    audience: str | None = None
    scopes: tuple[str, ...] = ("wallet:export",)  # scopes cases request
    #: the contract has a ``scope`` claim (a profile's ``[claims] scope``; RFC 7523 has
    #: none): without one the valid assertion carries no ``scope`` (``Context.assertion``)
    scope_claim: bool = True
    subjects: tuple[str, ...] = ("conformance-a", "conformance-b")
    known_scopes: tuple[str, ...] = KNOWN_SCOPES
    default_alg: str = "ES256"
    #: the maximum elevated-token lifetime the target documents (seconds); None: not
    #: declared (measured and judged against a hard bound, see catalog/issued.py)
    max_token_lifetime_s: int | None = None
    #: the clock leeway the target documents (seconds); clock cases probe around it.
    #: None: not declared — the time cases measure it (catalog/times.py)
    leeway_s: int | None = None
    #: the maximum assertion lifetime the target documents (seconds); None: not declared
    max_assertion_lifetime_s: int | None = None
    #: the least time between two JWKS refetches on an unknown kid (seconds): key cases
    #: wait up to four of these for a refetch
    jwks_refetch_s: float = 0.5
    #: how long the target documents keeping a fetched JWKS (seconds); the revocation case
    #: waits that long for a removed key to be refused. None: not declared (bounded default)
    jwks_cache_s: float | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class PropertySettings:
    """How the property cases draw: ``examples`` per property, and the run's ``seed``
    (recorded in the results; the same seed draws the same examples); and whether the
    run opted in to the slow tier (``slow_tier``: replays spaced in time)."""

    examples: int = 40
    seed: int | None = None
    slow_tier: bool = False
