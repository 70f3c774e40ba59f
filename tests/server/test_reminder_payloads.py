"""The lines a message carries itself (server/reminders/payloads.py): written and read back
as the same entries, rows written by the scheduler before these types read the same, and a
broken row named by its key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.reminders.payloads import (
    AlertEntry,
    NoticeEntry,
    PayloadError,
    from_json,
    notice_ids,
    to_json,
)

from .test_reminders import SHANGHAI

EXPIRES = datetime(2026, 12, 16, tzinfo=SHANGHAI)
HOLD_UNTIL = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_entries_round_trip_through_the_json_column() -> None:
    entries = (
        AlertEntry("创可贴", "Plasters", EXPIRES, "剩 3", "3 left"),
        AlertEntry("手套", detail_zh="剩 1，最低 5"),
        NoticeEntry(7, "电钻", "Drill", HOLD_UNTIL, "预约的电钻可取", "预约的电钻可取"),
    )
    assert from_json(to_json(entries)) == entries
    assert notice_ids(entries) == [7]
    assert from_json(None) is None  # a loan reminder: read its loans
    assert from_json([]) == ()  # nothing left to tell


def test_rows_written_by_the_old_scheduler_read_the_same() -> None:
    alert = {
        "name_zh": "创可贴",
        "name_en": "Plasters",
        "when": EXPIRES.isoformat(),
        "detail_zh": "剩 3",
        "detail_en": "3 left",
    }
    notice = {
        "notice_id": 7,
        "name_zh": "电钻",
        "name_en": "",
        "when": None,
        "display": "预约的电钻可取",
        "detail_zh": "预约的电钻可取",
    }
    assert to_json(from_json([alert, notice]) or ()) == [alert, notice]  # same keys, same order
    sparse = from_json([{"name_zh": "手套", "name_en": None, "when": ""}])
    assert sparse == (AlertEntry("手套"),)


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ({"name_en": "Drill"}, r"payload\[0\]\.name_zh"),
        ({"name_zh": "电钻", "when": "tomorrow"}, r"payload\[0\]\.when"),
        ({"name_zh": "电钻", "notice_id": "7"}, r"payload\[0\]\.notice_id"),
        ({"name_zh": "电钻", "detail_zh": 3}, r"payload\[0\]\.detail_zh"),
    ],
)
def test_a_broken_entry_is_refused_by_its_key(row: dict[str, object], where: str) -> None:
    with pytest.raises(PayloadError, match=where):
        from_json([row])
    with pytest.raises(PayloadError, match="expected a list"):
        from_json({"name_zh": "电钻"})
