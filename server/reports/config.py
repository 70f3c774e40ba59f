"""The ``reports`` branch of ServerSettings (env ``TOOLHUT_SERVER_REPORTS__*``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

# storage.models.DEFAULT_TIMEZONE, written out: the settings load without SQLAlchemy.
DEFAULT_TIMEZONE = "Asia/Shanghai"


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly: bool = Field(
        True,
        description="on the first day of each month, build last month's report of every hut "
        "and of the district, keep it and tell the staff channel (one process does it)",
    )
    channels: list[str] = Field(
        default_factory=lambda: ["staff"],
        description="the reminder channels (TOOLHUT_SERVER_REMINDERS__CHANNELS names) the "
        "monthly report's message goes to",
    )
    timezone: str = Field(
        DEFAULT_TIMEZONE, description="the district report's months begin at midnight here"
    )
    catch_up_days: int = Field(
        7,
        ge=1,
        le=28,
        description="a month's send not made on its first day (no server ran) is made up to "
        "this day of the month; after it, that month is left to be built by hand",
    )
    poll_s: float = Field(60.0, gt=0, description="seconds between looks for a month to send")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name
