"""Staff passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory
profile) and random temporary ones. The strength a new one must have: strength.py."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def temporary_password() -> str:
    """A random password to hand over once (20 characters from 120 random bits: strong
    enough for server.accounts.strength; its holder changes it at first sign-in)."""
    return secrets.token_urlsafe(15)
