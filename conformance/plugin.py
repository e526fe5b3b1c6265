"""pytest plugin (registered through the ``pytest11`` entry point); inert until asked for."""

from __future__ import annotations
