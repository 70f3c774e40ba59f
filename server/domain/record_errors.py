"""What a record write refuses, without HTTP: the API turns these into its one error
format (server.api.errors), the import into its per-row report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """``field`` is the body's or the sheet's column name; ``line`` the sheet's line (1 is
    the header row), None for an API body."""

    field: str
    reason: str
    line: int | None = None


class InvalidFieldsError(ValueError):
    """One or more fields are wrong; every one is named."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


class StaleVersionError(Exception):
    """The record changed since the client read it (another staff member's edit)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the record is at version {current}")
        self.current = current
