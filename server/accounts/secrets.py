"""Random bearer secrets (session cookies, API tokens) and the hashes stored for them.

A secret is 32 random bytes: a plain SHA-256 of it is as good as a slow hash (nothing to
guess), and lets a request find its row by an indexed lookup."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "thk_"  # API tokens: recognisable in a leak scanner or a log
SESSION_PREFIX = "ths_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
