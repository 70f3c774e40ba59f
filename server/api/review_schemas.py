"""Staff API payloads of what the system flagged: alarms, anomalies, sequence gaps and
dead letters, each with the same review fields, and the notes of a review."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from server.api.params import RequestBody
from server.domain.alarms import ALARM_TEXT, ANOMALY_TEXT
from server.records.reviews import MAX_NOTE, state_of
from server.storage.ingest_models import SequenceGap
from server.storage.models import Anomaly, RejectedMessage
from server.storage.operations_models import Alarm

# A dead letter's payload shown as text: what is not printable becomes this.
NOT_PRINTABLE = "·"


class AcknowledgeBody(RequestBody):
    note: Annotated[str | None, Field(max_length=MAX_NOTE)] = None


class ResolveBody(RequestBody):
    """Resolving says what was found or done: the note is required."""

    note: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE)
    ]


class ReviewOut(BaseModel):
    """Where staff's review stands: ``open`` (not resolved), ``acknowledged``,
    ``resolved``; who did each step (their username), when, with what note."""

    state: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_note: str | None


def label(kind: str, texts: Mapping[Any, str]) -> str:
    """A kind as staff read it; one the catalogue does not know (from a later version) as
    it is stored."""
    return texts.get(kind, kind)


def review_fields(row: Any, names: Mapping[int, str]) -> dict[str, Any]:
    """The ReviewOut fields of ``row``; ``names``: usernames by staff user id."""
    return {
        "state": state_of(row).value,
        "acknowledged_at": row.acknowledged_at,
        "acknowledged_by": _name(row.acknowledged_by_id, names),
        "acknowledge_note": row.acknowledge_note,
        "resolved_at": row.resolved_at,
        "resolved_by": _name(row.resolved_by_id, names),
        "resolve_note": row.resolve_note,
    }


def _name(user_id: int | None, names: Mapping[int, str]) -> str | None:
    return None if user_id is None else names.get(user_id, f"#{user_id}")


class AlarmOut(ReviewOut):
    id: int
    hut: str
    kind: str
    label: str  # the kind as staff read it, 中文 / English
    source: str  # controller | gateway | server
    raised_at: datetime  # when it started at the hut (its own clock, never ahead of ours)
    active: bool
    cleared_at: datetime | None
    repeats: int  # times it started again within this incident
    detail: str
    notified_at: datetime | None  # when the staff channel was first told (None: not told)
    reminders_sent: int
    updated_at: datetime

    @classmethod
    def of(cls, alarm: Alarm, names: Mapping[int, str]) -> AlarmOut:
        return cls(
            id=alarm.id,
            hut=alarm.hut_id,
            kind=alarm.kind,
            label=label(alarm.kind, ALARM_TEXT),
            source=alarm.source,
            raised_at=alarm.raised_at,
            active=alarm.active,
            cleared_at=alarm.cleared_at,
            repeats=alarm.repeats,
            detail=alarm.detail,
            notified_at=alarm.notified_at,
            reminders_sent=alarm.reminders_sent,
            updated_at=alarm.updated_at,
            **review_fields(alarm, names),
        )


class AnomalyOut(ReviewOut):
    id: int
    hut: str
    kind: str
    label: str
    item_id: int | None
    item_tag: str | None
    member_id: int | None  # the card holder of the door session, if any (no name here)
    door_session_id: int | None
    detail: str
    created_at: datetime

    @classmethod
    def of(cls, anomaly: Anomaly, names: Mapping[int, str], tags: Mapping[int, str]) -> AnomalyOut:
        return cls(
            id=anomaly.id,
            hut=anomaly.hut_id,
            kind=anomaly.kind,
            label=label(anomaly.kind, ANOMALY_TEXT),
            item_id=anomaly.item_id,
            item_tag=None if anomaly.item_id is None else tags.get(anomaly.item_id),
            member_id=anomaly.member_id,
            door_session_id=anomaly.door_session_id,
            detail=anomaly.detail,
            created_at=anomaly.created_at,
            **review_fields(anomaly, names),
        )


class SequenceGapOut(ReviewOut):
    id: int
    hut: str
    kind: str  # missing (seqs skipped) | reset (the gateway numbered again)
    first_seq: int
    last_seq: int
    detected_at: datetime
    late: int  # seqs of the gap that came after all
    detail: str

    @classmethod
    def of(cls, gap: SequenceGap, names: Mapping[int, str]) -> SequenceGapOut:
        return cls(
            id=gap.id,
            hut=gap.hut_id,
            kind=gap.kind,
            first_seq=gap.first_seq,
            last_seq=gap.last_seq,
            detected_at=gap.detected_at,
            late=gap.late,
            detail=gap.detail,
            **review_fields(gap, names),
        )


class DeadLetterOut(ReviewOut):
    """A message the server refused. Its stored first bytes (``payload_base64``, and as
    text with what is not printable shown as ·) only for staff and admins: a malformed
    card event may hold a card UID; viewers see what it was and why it was refused."""

    id: int
    topic: str
    reason: str
    size: int  # the whole message's, in bytes
    sha256: str  # of the whole message
    received_at: datetime
    payload_base64: str | None
    payload_preview: str | None

    @classmethod
    def of(
        cls, letter: RejectedMessage, names: Mapping[int, str], *, with_payload: bool
    ) -> DeadLetterOut:
        payload = letter.payload if with_payload else None
        return cls(
            id=letter.id,
            topic=letter.topic,
            reason=letter.reason,
            size=letter.payload_size,
            sha256=letter.payload_sha256,
            received_at=letter.received_at,
            payload_base64=None if payload is None else base64.b64encode(payload).decode(),
            payload_preview=None if payload is None else printable(payload),
            **review_fields(letter, names),
        )


def printable(payload: bytes) -> str:
    """The bytes as text to look at, safely: UTF-8 where they are, and every character
    that is not printable (controls, line breaks, direction overrides) as ·."""
    text = payload.decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else NOT_PRINTABLE for c in text)
