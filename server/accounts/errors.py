"""What an account operation refuses, without HTTP (the API's errors.py maps them; the
command line prints them). Bad fields are domain.record_errors.InvalidFieldsError."""

from __future__ import annotations


class AccountNotFoundError(LookupError):
    """No such account (or token of this account)."""


class AccountConflictError(Exception):
    """The change would break a rule of the accounts; ``reason`` is machine-readable,
    ``text`` what a person reads."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text}")
        self.reason = reason
        self.text = text
