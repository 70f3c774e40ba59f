"""The gateway's one settings object: command-line flags over ``TOOLHUT_GATEWAY_*``
environment variables over defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from toolhut.contract import HUT_ID_PATTERN, Topics
from toolhut.mqtt import MqttEndpoint


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOOLHUT_GATEWAY_", extra="forbid")

    hut: Annotated[str, Field(pattern=HUT_ID_PATTERN, description="this hut's id")]
    serial: str = Field(description="controller serial device, e.g. /dev/serial/by-id/...")
    baudrate: int = 115200
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = "toolhut"
    data_dir: Path = Field(Path("data/gateway"), description="outbox and allowlist live here")
    unlock_pulse_ms: Annotated[int, Field(ge=500, le=30_000)] = 5000
    session_idle_s: Annotated[float, Field(gt=0)] = 120.0
    # Server feedback for a scan is shown only this long after the scan; an ack that comes
    # back after an outage must not beep at the next resident.
    feedback_window_s: Annotated[float, Field(gt=0)] = 10.0
    resend_after_s: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, url: str) -> str:
        MqttEndpoint.parse(url)
        return url

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        Topics(prefix)
        return prefix

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / f"{self.hut}-outbox.sqlite3"

    @property
    def allowlist_path(self) -> Path:
        return self.data_dir / f"{self.hut}-allowlist.json"
