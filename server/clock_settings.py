"""The ``clock`` branch of ServerSettings (env ``TOOLHUT_SERVER_CLOCK__*``): whether this
server's clock may be moved (demos and tests only), and how far ahead it starts.

Off by default, and off in every production set-up: then the process runs on the system's
clock, the clock routes are not there (404) and an offset is refused at start."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from server.clock import (
    Clock,
    OffsetClock,
    checked_advance,
    parse_duration,
    shown_duration,
    system_clock,
)
from toolhut.i18n import bilingual

ENABLED_ENV = "TOOLHUT_SERVER_CLOCK__ENABLED"
TEXT_NOT_ENABLED = bilingual(
    "this server's clock cannot be moved: a clock offset needs {env}=true "
    "(demos and tests only, never in production)"
).format(env=ENABLED_ENV)
TEXT_MOVABLE = bilingual(
    "this server's clock can be moved (clock.enabled: demos and tests only, never in production); "
    "it starts {offset} ahead of real time"
)


class ClockSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        False,
        description="let admins move this server's clock forward (POST /api/v1/clock, the "
        "demo's `time +4d`): demos and tests only, never in production",
    )
    offset: timedelta = Field(
        timedelta(0),
        description='how far ahead of real time the clock starts: "4d", "2h", "1d12h" or '
        "seconds (at most 366 days); needs enabled",
    )

    @field_validator("offset", mode="before")
    @classmethod
    def _spelled(cls, value: Any) -> Any:
        # "4d" as the demo's prompt and the API spell it, or seconds ("3600" from the env).
        if isinstance(value, str):
            spelled = value.strip()
            if spelled.isascii() and spelled.isdigit() and len(spelled) <= 9:
                return timedelta(seconds=int(spelled))
            return parse_duration(value)
        return value

    @model_validator(mode="after")
    def _only_when_enabled(self) -> Self:
        if not self.offset:
            return self
        if not self.enabled:
            raise ValueError(TEXT_NOT_ENABLED)
        checked_advance(self.offset)  # the bounds of one move: forward, at most 366 days
        return self

    def clock(self, base: Clock = system_clock) -> Clock:
        """The process's one clock: ``base`` itself when the clock may not move."""
        if not self.enabled:
            return base
        return OffsetClock(base, offset=self.offset)

    @property
    def warning(self) -> str:
        """What the server logs at start when its clock can be moved."""
        return TEXT_MOVABLE.format(offset=shown_duration(self.offset))
