"""The lines a message carries itself, in ``reminder_messages.payload`` (a JSON list), typed.

A loan reminder reads its loans at send time; a stock alert or a ledger notice has no loan
to read, so its lines travel with the message. Each entry is a frozen dataclass here, and
this module alone turns them into the JSON column and back: ``to_json`` writes, ``from_json``
reads and checks. The keys are those the scheduler has always written, so rows from before
these types read back unchanged (no migration).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class PayloadError(ValueError):
    """A payload entry that cannot be read; the message names the key."""


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """A line with its own words: a stock alert's for staff (what to restock or check, and
    the ledger's detail), or a sign-in message's (the code, and the link as its detail)."""

    name_zh: str
    name_en: str = ""
    when: datetime | None = None  # the expiry date; None: the message's creation
    detail_zh: str = ""  # e.g. "剩 2，最低 5"
    detail_en: str = ""


@dataclass(frozen=True, slots=True)
class NoticeEntry:
    """A ledger notice's line (e.g. reservation ready): sent while the notice still holds."""

    notice_id: int  # the ledger's notification request
    name_zh: str  # the item, or the ledger's text where there is no item
    name_en: str = ""
    when: datetime | None = None  # the hold's end
    display: str = ""  # the ledger's own words for the hut display
    detail_zh: str = ""


PayloadEntry = AlertEntry | NoticeEntry


def to_json(entries: Iterable[PayloadEntry]) -> list[dict[str, Any]]:
    """The column's value for ``entries``."""
    return [_entry_json(entry) for entry in entries]


def from_json(raw: object) -> tuple[PayloadEntry, ...] | None:
    """The entries of a column's value; None for a message without a payload (a loan
    reminder), which is not the same as an empty one (nothing left to tell)."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise PayloadError("payload: expected a list")
    return tuple(_entry(data, f"payload[{n}]") for n, data in enumerate(raw))


def notice_ids(entries: Iterable[PayloadEntry] | None) -> list[int]:
    """The ledger notices a payload tells of."""
    return [e.notice_id for e in entries or () if isinstance(e, NoticeEntry)]


def _entry_json(entry: PayloadEntry) -> dict[str, Any]:
    when = None if entry.when is None else entry.when.isoformat()
    if isinstance(entry, NoticeEntry):
        return {
            "notice_id": entry.notice_id,
            "name_zh": entry.name_zh,
            "name_en": entry.name_en,
            "when": when,
            "display": entry.display,
            "detail_zh": entry.detail_zh,
        }
    return {
        "name_zh": entry.name_zh,
        "name_en": entry.name_en,
        "when": when,
        "detail_zh": entry.detail_zh,
        "detail_en": entry.detail_en,
    }


def _entry(data: Any, where: str) -> PayloadEntry:
    if not isinstance(data, Mapping):
        raise PayloadError(f"{where}: expected an object")
    name_zh = data.get("name_zh")
    if not isinstance(name_zh, str):
        raise PayloadError(f"{where}.name_zh: expected a string")
    name_en = _text(data, "name_en", where)
    when = _when(data.get("when"), f"{where}.when")
    detail_zh = _text(data, "detail_zh", where)
    notice_id = data.get("notice_id")
    if notice_id is None:
        detail_en = _text(data, "detail_en", where)
        return AlertEntry(name_zh, name_en, when, detail_zh, detail_en)
    if isinstance(notice_id, bool) or not isinstance(notice_id, int):
        raise PayloadError(f"{where}.notice_id: expected an integer")
    display = _text(data, "display", where)
    return NoticeEntry(notice_id, name_zh, name_en, when, display, detail_zh)


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    """An optional text; missing or null reads as "" (as the old readers took it)."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}: expected a string")
    return value


def _when(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected an ISO 8601 time")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(f"{where}: expected an ISO 8601 time") from None
