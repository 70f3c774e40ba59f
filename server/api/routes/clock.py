"""The server's clock, for admins, where the settings let it be moved (demos and tests:
``TOOLHUT_SERVER_CLOCK__ENABLED``); elsewhere this router is not mounted at all (404).

``GET /api/v1/clock``: the server's time and how far ahead of real time it is.
``POST /api/v1/clock``: move it forward (``{"advance": "4d"}`` or ``{"advance_s": 345600}``),
audited; the reminder scheduler sweeps at once, so what became due is sent within seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Self

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from server.api.auth import AdminOnly
from server.api.deps import DbDep
from server.api.stamps import AdminStamp
from server.clock import (
    MAX_ADVANCE,
    ClockMoveError,
    OffsetClock,
    checked_advance,
    parse_duration,
    shown_duration,
)
from server.clock_moves import ClockReading, advance, reading
from toolhut.i18n import bilingual

router = APIRouter(prefix="/api/v1", tags=["clock"], dependencies=[AdminOnly])

TEXT_ONE_OF = bilingual("give one of advance or advance_s")


class ClockOut(BaseModel):
    now: datetime = Field(description="the server's time, UTC")
    offset_s: float = Field(description="how far ahead of real time, in seconds")
    offset: str = Field(description='the same, spelled as a move is, e.g. "4d 2h"')

    @classmethod
    def of(cls, clock: ClockReading) -> ClockOut:
        return cls(
            now=clock.now,
            offset_s=clock.offset.total_seconds(),
            offset=shown_duration(clock.offset),
        )


class ClockMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance: str | None = Field(
        None, max_length=32, description='forward by "4d", "2h", "1d12h", "90m" or "30s"'
    )
    advance_s: float | None = Field(
        None,
        gt=0,
        le=MAX_ADVANCE.total_seconds(),
        allow_inf_nan=False,
        description=f"forward by this many seconds (at most {MAX_ADVANCE.days} days)",
    )

    @field_validator("advance")
    @classmethod
    def _duration(cls, spelled: str | None) -> str | None:
        if spelled is not None:
            parse_duration(spelled)  # ClockMoveError is a ValueError: a 422 naming the field
        return spelled

    @field_validator("advance_s")
    @classmethod
    def _seconds(cls, seconds: float | None) -> float | None:
        if seconds is not None:
            checked_advance(timedelta(seconds=seconds))  # under a microsecond is zero
        return seconds

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.advance is None) == (self.advance_s is None):
            raise ValueError(TEXT_ONE_OF)
        return self

    @property
    def delta(self) -> timedelta:
        if self.advance is not None:
            return parse_duration(self.advance)
        assert self.advance_s is not None
        return checked_advance(timedelta(seconds=self.advance_s))


def _clock(request: Request) -> OffsetClock:
    clock = request.app.state.clock
    assert isinstance(clock, OffsetClock)  # create_app mounts this router only then
    return clock


@router.get("/clock")
def get_clock(request: Request) -> ClockOut:
    return ClockOut.of(reading(_clock(request)))


@router.post("/clock")
def move_clock(move: ClockMove, request: Request, db: DbDep, stamp: AdminStamp) -> ClockOut:
    """Move the server's clock forward (never back); the reminders due by the new time are
    swept at once."""
    try:
        moved = advance(db, _clock(request), move.delta, stamp=stamp)
    except ClockMoveError as exc:  # only the total is left to refuse: the fields are checked
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    db.commit()
    return ClockOut.of(moved)
