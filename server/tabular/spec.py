"""What the import/export engine needs of one kind of record (a Sheet): its columns, a
check of every row that names each bad field, the write of checked rows, the export.

The engine (reading files, encodings, headers, the report, all-or-nothing) knows nothing
of items or members; each kind's Sheet lives beside that kind's records module and calls
the same validation the API does."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError
from toolhut.i18n import bilingual


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


VERSION_KEY = "version"
VERSION = Column(VERSION_KEY, "版本", "Version")
"""The record's version when it was exported: an import of a row that names an existing
record at another version is refused (the record changed since; export again). A row
without it (a file typed by hand) is not checked."""

TEXT_BAD_VERSION = bilingual("the version is a whole number of at least 1")
TEXT_STALE = bilingual("changed since this file was exported (now version {version}): export again")
_VERSION = re.compile(r"[0-9]{1,10}")


def cells(row: SheetRow) -> dict[str, str]:
    """The row's cells but its version (what the record's field model is given)."""
    return {key: value for key, value in row.values.items() if key != VERSION_KEY}


def versions(rows: Sequence[SheetRow]) -> tuple[dict[int, int], list[FieldError]]:
    """Each row's version by line (rows without one left out); a version that is no
    number is an error on its line."""
    found: dict[int, int] = {}
    errors: list[FieldError] = []
    for row in rows:
        text = row.values.get(VERSION_KEY)
        if text is None:
            continue
        if _VERSION.fullmatch(text) and 1 <= int(text) <= 2**31 - 1:
            found[row.line] = int(text)
        else:
            errors.append(FieldError(VERSION_KEY, TEXT_BAD_VERSION, row.line))
    return found, errors


def stale(
    line: int, key: object, given: Mapping[int, int], current: Mapping[Any, int]
) -> FieldError | None:
    """The error of the row on ``line`` naming the record ``key`` if the row carries a
    version (``given``: by line) and the record is now at another one (``current``: by
    key; a record not there is new or another check's business)."""
    version = given.get(line)
    now = current.get(key)
    if version is None or now is None or version == now:
        return None
    return FieldError(VERSION_KEY, TEXT_STALE.format(version=now), line)


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
