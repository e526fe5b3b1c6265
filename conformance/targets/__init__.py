"""Adapters that speak to an exchange endpoint: one interface, one module per profile."""

from __future__ import annotations

from .base import Exchange, Session, Target

__all__ = ["Exchange", "Session", "Target"]
