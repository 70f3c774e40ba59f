"""The reference a member card's printed QR code carries instead of the card's UID.

The UID is what the hut's RFID reader accepts, so printing it would let anyone who finds (or
photographs) a card copy the credential. The QR holds ``CARD:`` and a keyed hash of the UID:
staff who hold the key can match it to a card (compute it for each registered UID), nobody
else can turn it back into a UID. The colon keeps it from ever reading as an item tag.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "CARD:"
MIN_KEY_BYTES = 16
_LENGTH = 16  # base32 characters: 80 bits


def card_ref(uid: str, *, key: bytes) -> str:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"card key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    digest = hmac.new(key, uid.strip().upper().encode("ascii"), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(digest).decode("ascii")[:_LENGTH]
