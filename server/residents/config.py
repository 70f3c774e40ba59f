"""Settings of residents' phone sign-in: ``TOOLHUT_SERVER_RESIDENTS__*``."""

from __future__ import annotations

from pydantic import BaseModel, Field

# A resident's own page on the server (the link every message to a member carries).
MY_PAGE = "/me"


class ResidentSettings(BaseModel):
    session_days: int = Field(
        60, ge=1, le=366, description="a resident's phone stays signed in this long"
    )
    session_idle_days: int = Field(
        21, ge=1, le=366, description="a resident's phone session ends after this long unused"
    )
    code_minutes: int = Field(
        10, ge=1, le=60, description="a sign-in code (display or message) is valid this long"
    )
    link_hours: int = Field(
        24,
        ge=1,
        le=168,
        description="a sign-in link sent through a reminder channel lasts this long",
    )
    code_attempts: int = Field(
        8,
        ge=1,
        le=100,
        description="wrong codes from one address within 10 minutes before it must wait",
    )
