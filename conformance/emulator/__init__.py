"""The emulator: a correct reference implementation of Dynamic's external-auth endpoints.

Strict by default (``docs/reference-policy.md``); named :data:`FLAWS` break one behaviour
each. Importing this package is cheap: Starlette, PyJWT and uvicorn load on first use of
:func:`create_app` or :func:`run_emulator`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._serving import serve_app
from .config import DEFAULT_ALGS, MEMORY, EmulatorConfig, Environment
from .flaws import FLAWS, Flaw, check_flaws
from .variants import VARIANTS, Variant, check_variants, with_variants

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .service import Emulator

__all__ = [
    "DEFAULT_ALGS",
    "FLAWS",
    "MEMORY",
    "VARIANTS",
    "EmulatorConfig",
    "EmulatorHandle",
    "Environment",
    "Flaw",
    "Variant",
    "check_flaws",
    "check_variants",
    "create_app",
    "run_emulator",
    "with_variants",
]


def create_app(config: EmulatorConfig, **kwargs: Any) -> Starlette:
    """The emulator's ASGI app (see :func:`conformance.emulator.app.create_app`)."""
    from .app import create_app as _create_app  # lazy: app.py imports starlette

    return _create_app(config, **kwargs)


@dataclass(frozen=True, slots=True)
class EmulatorHandle:
    """A running emulator: ``base_url`` is the API base (``http://127.0.0.1:PORT/api/v0``)."""

    host: str
    port: int
    root_url: str
    emulator: Emulator = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v0"


@contextlib.contextmanager
def run_emulator(
    config: EmulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] | None = None,
) -> Iterator[EmulatorHandle]:
    """Serve the emulator on a loopback port in this process until the block exits.

    Raises ConfigError when the port cannot be bound or the config is wrong.
    """
    kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
    app = create_app(config, **kwargs)
    emulator: Emulator = app.state.emulator
    try:
        with serve_app(app, host=host, port=port) as server:
            yield EmulatorHandle(server.host, server.port, server.base_url, emulator)
    finally:
        emulator.close()
