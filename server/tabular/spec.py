"""What the import/export engine needs of one kind of record (a Sheet): its columns, a
check of every row that names each bad field, the write of checked rows, the export.

The engine (reading files, encodings, headers, the report, all-or-nothing) knows nothing
of items or members; each kind's Sheet lives beside that kind's records module and calls
the same validation the API does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError


@dataclass(frozen=True, slots=True)
class Column:
    """``key`` is the column's name in exports and in the API; a file's header may also
    use the Chinese or the English heading."""

    key: str
    zh: str
    en: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One data row: its line in the file (the header is line 1) and its cells by column
    key, stripped; an empty cell is left out."""

    line: int
    values: dict[str, str]


class Sheet(Protocol):
    @property
    def kind(self) -> str:
        """ "items", "supplies", "members": the CLI's and the URL's word."""
        ...

    @property
    def columns(self) -> tuple[Column, ...]: ...

    def check(self, db: Session, rows: Sequence[SheetRow]) -> list[FieldError]:
        """Every problem of every row (FieldError.line set), against the database and
        the other rows (a tag twice in one file); nothing written."""
        ...

    def write(self, db: Session, rows: Sequence[SheetRow], *, actor: Actor, now: datetime) -> int:
        """Write rows that ``check`` passed (a new record, or an update of the one the
        row's key names, so an export imports back without duplicates), audited; returns
        how many records changed. Flushed, not committed."""
        ...

    def export(self, db: Session) -> Iterator[dict[str, str]]:
        """Every record as cells by column key, in a stable order."""
        ...
