"""Settings of staff sign-in: ``TOOLHUT_SERVER_ACCOUNTS__*``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AccountSettings(BaseModel):
    session_idle_minutes: int = Field(
        120, ge=1, description="a console session ends after this long without a request"
    )
    session_hours: int = Field(
        12, ge=1, description="a console session ends this long after sign-in, however busy"
    )
    cookie_secure: bool | None = Field(
        None,
        description="Secure flag of the session cookie; unset: set when the request came "
        "over https (behind a proxy: with forwarded_allow_ips)",
    )
    token_days: int = Field(90, ge=1, le=366, description="default lifetime of an API token")
