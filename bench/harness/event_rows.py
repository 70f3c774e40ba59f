"""An event as a row of the product's ``events`` table, written with plain SQLAlchemy Core:
the raw parts' share of the ledger's work (no seal checked, no rule applied)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, insert

from server.storage.models import EventRecord


def insert_events() -> Insert:
    """The INSERT of ``event_row`` rows (one row, or many as one executemany)."""
    return insert(EventRecord)


def event_row(payload: bytes, *, received_at: datetime) -> dict[str, Any]:
    """The row of one sealed event, as decoded by the json module alone."""
    body = json.loads(payload)
    return {
        "event_id": body["id"],
        "hut_id": body["hut"],
        "seq": body["seq"],
        "type": body["type"],
        "ts": datetime.fromisoformat(body["ts"]),
        "received_at": received_at,
        "payload": body,
        "outcome": "applied",
    }
