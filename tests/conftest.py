"""Shared set-up for the project's own tests.

pytester's in-process runs restore ``sys.modules`` afterwards, so a module first imported
inside an inner run is imported again by the next one; cryptography's Rust bindings do
not survive that ("curve must be an EllipticCurve instance"). Importing them here keeps
them in the snapshot.
"""

from __future__ import annotations

import os

import cryptography.hazmat.primitives.asymmetric.ec
import cryptography.hazmat.primitives.asymmetric.ed25519
import cryptography.hazmat.primitives.asymmetric.padding
import cryptography.hazmat.primitives.asymmetric.rsa
import cryptography.hazmat.primitives.serialization
import cryptography.x509  # noqa: F401
import jwt
import jwt.algorithms  # noqa: F401
from hypothesis import settings

from conformance.strategies import CI_PROFILE, register_profiles

# Our CI profile (derandomised, no deadline, no database, the reproduction blob printed)
# whenever CI is set, as Hypothesis' own pytest plugin would do with its built-in one.
register_profiles()
if os.environ.get("CI"):
    settings.load_profile(CI_PROFILE)
