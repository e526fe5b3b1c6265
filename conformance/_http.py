"""The one place that builds HTTP clients (see style.md: a later httpx move is one file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    import ssl

    import httpx

USER_AGENT = "exchange-conformance"


def client(
    *,
    timeout_s: float = 10.0,
    verify: bool | ssl.SSLContext = True,
    max_connections: int = 16,
    transport: Any = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """A keep-alive client shared by all cases of a run.

    Redirects are never followed: a token endpoint that redirects is reported, not obeyed.
    """
    import httpx  # lazy: _config reaches this module (via _transport); httpx loads here

    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        verify=verify,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        # identity: bodies are read raw and bounded; no decompression (nor its bombs).
        headers={"user-agent": f"{USER_AGENT}/{__version__}", "accept-encoding": "identity"},
        transport=transport,
        follow_redirects=follow_redirects,
    )
