"""Huts as staff keep them: id, name, address, time zone, contact phone, opening hours.

Creating a hut is a deployment step (an admin's, or the command line's); editing one is
staff's. New opening hours change what the door lets in, so they mark an access change:
the allowlists (which carry the hours) republish after the commit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError
from server.records import writes
from server.records.fields import HutId, Name, RecordFields, RecordUpdate, refuse
from server.staff_actions import NotFoundError
from server.storage import access_changes
from server.storage.models import DEFAULT_TIMEZONE, Hut
from toolhut.i18n import bilingual
from toolhut.opening_hours import OpeningHours

TEXT_NO_HUT = bilingual("no hut {hut_id!r}")
TEXT_HUT_EXISTS = bilingual("a hut with this id exists already")
TEXT_UNKNOWN_ZONE = bilingual("unknown time zone {tz!r} (e.g. Asia/Shanghai)")

Phone = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[0-9+() -]+$")]
Address = Annotated[str, Field(max_length=500)]
FIELDS = ("name", "address", "timezone", "contact_phone", "opening_hours")


def _zone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(TEXT_UNKNOWN_ZONE.format(tz=tz)) from exc
    return tz


Zone = Annotated[str, Field(max_length=64), AfterValidator(_zone)]


class HutFields(RecordFields):
    """A new hut. ``opening_hours``: None is always open; their time zone is the hut's."""

    id: HutId
    name: Name
    address: Address | None = None
    timezone: Zone = DEFAULT_TIMEZONE
    contact_phone: Phone | None = None
    opening_hours: OpeningHours | None = None


class HutUpdate(RecordUpdate):
    required = frozenset({"name", "timezone"})

    name: Name | None = None
    address: Address | None = None
    timezone: Zone | None = None
    contact_phone: Phone | None = None
    opening_hours: OpeningHours | None = None


def _hours(hours: OpeningHours | None, tz: str) -> dict[str, Any] | None:
    """Stored as the model's dump, in the hut's own zone."""
    return None if hours is None else hours.model_copy(update={"tz": tz}).model_dump()


def get(db: Session, hut_id: str) -> Hut:
    hut = db.get(Hut, hut_id)
    if hut is None:
        raise NotFoundError(TEXT_NO_HUT.format(hut_id=hut_id))
    return hut


def create(db: Session, fields: HutFields, *, actor: Actor, now: datetime) -> Hut:
    if db.get(Hut, fields.id) is not None:
        refuse(FieldError("id", TEXT_HUT_EXISTS))
    hut = Hut(
        id=fields.id,
        name=fields.name,
        address=fields.address,
        timezone=fields.timezone,
        contact_phone=fields.contact_phone,
        opening_hours=_hours(fields.opening_hours, fields.timezone),
        version=1,
    )
    writes.add(db, hut, entity="hut", key=hut.id, audited=FIELDS, actor=actor, now=now)
    if hut.opening_hours is not None:
        access_changes.mark(db)
    return hut


def update(
    db: Session, hut_id: str, fields: HutUpdate, *, expected: int, actor: Actor, now: datetime
) -> Hut:
    """StaleVersionError if the hut is no longer at ``expected``."""
    hut = get(db, hut_id)
    values = fields.changes()
    tz = values.get("timezone", hut.timezone)
    if "opening_hours" in values:
        values["opening_hours"] = _hours(fields.opening_hours, tz)
    elif tz != hut.timezone and hut.opening_hours is not None:
        values["opening_hours"] = {**hut.opening_hours, "tz": tz}  # the hours follow the hut
    before, after = writes.edit(
        db,
        hut,
        expected=expected,
        values=values,
        entity="hut",
        key=hut.id,
        audited=FIELDS,
        actor=actor,
        now=now,
    )
    if before["opening_hours"] != after["opening_hours"]:
        access_changes.mark(db)
    return hut
