"""The emulator's own base64url helpers.

Deliberately not shared with the forge (``conformance._jose``): the suite writes tokens
with one implementation and the emulator reads them with another, so a bug in our token
writer cannot hide the same bug in our validator.
"""

from __future__ import annotations

import base64


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url, padding optional. Lenient on purpose: callers that must refuse a
    non-canonical segment re-encode the result and compare (see ``validation.py``).
    Raises ``binascii.Error`` (a ``ValueError``) for impossible lengths or padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
