"""The ``reminders`` branch of ServerSettings (env ``TOOLHUT_SERVER_REMINDERS__*``)."""

from __future__ import annotations

import json
from datetime import time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.domain.reminders import (
    DEFAULT_REMINDER_POLICY,
    QuietHours,
    ReminderPolicy,
    ReminderPolicyError,
    policy_from_data,
)


class ReminderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run the reminder scheduler in this process")
    interval_s: float = Field(300.0, gt=0, description="seconds between sweeps")
    quiet_start: time = Field(time(21, 0), description="quiet hours start, hut's local time")
    quiet_end: time = Field(time(8, 0), description="quiet hours end, hut's local time")
    channels: dict[str, str] = Field(
        default_factory=dict,
        description='channel name -> Apprise URL, e.g. {"wecom": "wecombot://KEY", '
        '"email": "mailtos://user:pw@smtp.example.org?to={address}", '
        '"staff": "wecombot://STAFFKEY"}; {address} is the member\'s contact',
    )
    default_locale: Literal["zh", "en"] = Field(
        "zh", description="language of channels without a member contact (group bots, display)"
    )
    policy_file: Path | None = Field(
        None, description="JSON reminder policy (see server/domain/reminders.py); unset: default"
    )
    lease_s: float = Field(300.0, gt=0, description="a worker's hold on a delivery while sending")
    max_attempts: int = Field(8, ge=1, description="attempts before a delivery is given up")
    retry_base_s: float = Field(60.0, gt=0, description="first retry delay; doubles each time")
    retry_max_s: float = Field(6 * 3600.0, gt=0, description="longest retry delay")
    lookback_days: float = Field(
        30.0, gt=0, description="loans overdue longer than the last stage plus this are left alone"
    )
    batch: int = Field(
        5000,
        ge=1,
        le=20000,
        description="loans per planning transaction (fewer, larger transactions plan faster)",
    )
    deliver_chunk: int = Field(
        200,
        ge=1,
        le=5000,
        description="deliveries leased, sent and then recorded in one transaction; a crash "
        "mid-chunk re-sends at most this many after the lease",
    )
    stock_alerts: bool = Field(
        True, description="tell staff when consumables run low or expire (restock, expiry)"
    )
    my_page_url: str | None = Field(
        None,
        description="the link every message to a member ends with: their own loans and "
        "waiting lists on the phone; unset: the server's <public_base_url>/me",
    )
    group_privacy: bool = Field(
        True,
        description="member reminders on channels without {address} (a shared WeCom group "
        "bot, a webhook) name the building/unit and the items, never the person",
    )

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours(self.quiet_start, self.quiet_end)

    def load_policy(self) -> ReminderPolicy:
        if self.policy_file is None:
            return DEFAULT_REMINDER_POLICY
        try:
            data = json.loads(self.policy_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReminderPolicyError(f"{self.policy_file}: {exc}") from exc
        return policy_from_data(data)

    def retry_delay(self, attempts: int) -> timedelta:
        seconds = min(self.retry_max_s, self.retry_base_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds)
