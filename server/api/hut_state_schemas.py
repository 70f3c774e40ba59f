"""The huts' live state in the API: each hut's state (signed-in staff of any role: it is
no personal data, but a hut's door and alarms are not for the public either), and the
payloads of the live stream (GET /api/v1/huts/stream)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from server.api.schemas import HutPublic
from server.storage.alarm_changes import AlarmView
from server.storage.hut_states import HutView
from server.storage.models import Hut
from toolhut.i18n import bilingual

TEXT_NEVER_REPORTED = bilingual("never reported")


class HutStateOut(BaseModel):
    """What the hut's gateway last reported, and the server's view of whether it is
    online. Offline, the fields stay as last reported."""

    hut_id: str
    reported: bool = Field(description="false: the hut never reported; every field is null")
    note: str | None = Field(None, description=f"'{TEXT_NEVER_REPORTED}' if not reported")
    online: bool = Field(
        description="its gateway is connected and its last status is recent "
        "(offline after its last will, a clean stop, or no status for stale_s)"
    )
    since: datetime | None = Field(description="when online last changed")
    door: str | None = Field(description="open | closed")
    lock: str | None = Field(description="locked | unlocked")
    controller: str | None = Field(description="ok | silent | absent")
    firmware: str | None = Field(description="the controller's firmware version")
    outbox: int | None = Field(description="events the gateway holds that the server has not acked")
    allowlist_version: int | None = Field(description="the allowlist the gateway decides with")
    alarms: list[str] = Field(
        description="alarms active at the hut: forced_open, held_open, tamper"
    )
    last_status_at: datetime | None = Field(description="when its last status came")
    last_event_at: datetime | None = Field(description="when its newest event came")
    changed_at: datetime | None = Field(description="when any field above last changed")

    @classmethod
    def of(cls, view: HutView) -> HutStateOut:
        return cls(
            hut_id=view.hut_id,
            reported=view.reported,
            note=None if view.reported else TEXT_NEVER_REPORTED,
            online=view.online,
            since=view.since,
            door=view.door,
            lock=view.lock,
            controller=view.controller,
            firmware=view.firmware,
            outbox=view.outbox,
            allowlist_version=view.allowlist_version,
            alarms=list(view.alarms),
            last_status_at=view.last_status_at,
            last_event_at=view.last_event_at,
            changed_at=view.changed_at,
        )


class HutListed(HutPublic):
    """A hut in the list: what anyone sees, and its state for signed-in staff."""

    state: HutStateOut | None = Field(None, description="signed-in staff only; absent otherwise")

    @classmethod
    def listed(cls, hut: Hut, view: HutView | None) -> HutListed:
        state = None if view is None else HutStateOut.of(view)
        return cls(**HutPublic.of(hut).model_dump(), state=state)

    @model_serializer(mode="wrap")
    def _state_only_for_staff(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.state is None:  # the public list stays what it always was
            data.pop("state", None)
        return data


class HutsListed(BaseModel):
    data: list[HutListed]
    count: int


class AlarmLive(BaseModel):
    """An alarm as the stream shows it; its detail and review notes are in the alarms API."""

    id: int
    hut_id: str
    kind: str
    active: bool
    acknowledged: bool
    resolved: bool
    raised_at: datetime | None = Field(None, description="when the incident began")

    @classmethod
    def of(cls, view: AlarmView) -> AlarmLive:
        return cls(
            id=view.id,
            hut_id=view.hut_id,
            kind=view.kind,
            active=view.active,
            acknowledged=view.acknowledged,
            resolved=view.resolved,
            raised_at=view.raised_at,
        )


class LiveSnapshot(BaseModel):
    """The stream's first event, and its answer to a resync: every hut's state and every
    alarm not resolved yet. A client replaces what it holds with it."""

    huts: list[HutStateOut]
    alarms: list[AlarmLive]
