"""exchange-conformance: a conformance suite for assertion-JWT token exchange endpoints."""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__"]
