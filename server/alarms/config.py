"""The ``alarms`` branch of ServerSettings (env ``TOOLHUT_SERVER_ALARMS__*``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from server.domain.alarms import WatchLimits


class AlarmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run the hut watch and the alarm notifier here")
    channels: list[str] = Field(
        default_factory=lambda: ["staff"],
        description="the reminder channels (TOOLHUT_SERVER_REMINDERS__CHANNELS names) a "
        "forced open, a tamper or a hut offline goes to; quiet hours never hold one back",
    )
    poll_s: float = Field(1.0, gt=0, description="seconds between looks for alarms to tell")
    watch_s: float = Field(2.0, gt=0, description="seconds between looks at the huts' state")
    offline_after_s: float = Field(
        300.0, ge=0, description="a hut offline this long raises hut_offline"
    )
    outbox_high: int = Field(
        500,
        ge=1,
        description="events waiting in an online hut's outbox that raise outbox_backlog "
        "(cleared at half of it)",
    )
    remind_after_s: float = Field(
        1800.0,
        ge=0,
        description="an alarm nobody acknowledged is told again after this, and as often "
        "again, up to max_reminders times; 0: never",
    )
    max_reminders: int = Field(6, ge=0, description="reminders of one alarm at most")

    @property
    def limits(self) -> WatchLimits:
        return WatchLimits(
            offline_after=timedelta(seconds=self.offline_after_s), outbox_high=self.outbox_high
        )

    def next_reminder(self, *, sent: int, now: datetime) -> datetime | None:
        """When the next reminder is due after a message at ``now`` that leaves ``sent``
        reminders sent (the first message: 0); None: no more."""
        if self.remind_after_s <= 0 or sent >= self.max_reminders:
            return None
        return now + timedelta(seconds=self.remind_after_s)
