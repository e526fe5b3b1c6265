"""``python -m conformance``: the same command line as the ``conformance`` script."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
