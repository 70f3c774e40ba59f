"""The server's one settings object: environment ``TOOLHUT_SERVER_*`` or arguments."""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.reminders.config import ReminderSettings
from toolhut.contract import DEFAULT_PREFIX, Topics
from toolhut.mqtt import MqttEndpoint


def _default_client_id() -> str:
    # Unique per settings object, not only per process: a second ingest worker with the same
    # id, in this process or another, would kick the first off the broker.
    return f"toolhut-server-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOOLHUT_SERVER_", env_nested_delimiter="__", extra="forbid"
    )

    db_url: str = Field(
        "sqlite:///data/toolhut.sqlite3",
        description="SQLAlchemy URL; postgresql://... is run with psycopg 3",
    )
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://[user[:pw]@]host[:port]")
    secret_file: Path = Field(
        Path("data/server-secret"),
        description="the server secret every hut key derives from (hex, 0600); created if "
        "missing; every server process sharing one database must read the same file",
    )
    topic_prefix: str = Field(DEFAULT_PREFIX, description="first topic level(s) of the contract")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535, description="HTTP port; 0 picks a free one")
    staff_token: SecretStr | None = Field(
        None, description="Bearer token that shows borrower names; unset: nobody is staff"
    )
    public_base_url: str = Field(
        "http://127.0.0.1:8000", description="printed on labels as <base>/i/<tag>"
    )
    ingest_client_id: str = Field(default_factory=_default_client_id)
    shared_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT shared-subscription group for events ($share/<group>/...): set the "
        "same group on every server process sharing one database; unset: plain subscription",
    )
    gap_timeout_s: float = Field(
        30.0, ge=0, description="how long an event waits for a missing earlier seq of its hut"
    )
    gap_sweep_s: float = Field(
        1.0, gt=0, description="how often held events are checked against the gap timeout"
    )
    allowlist_check_s: float = Field(
        15.0,
        gt=0,
        description="how often the huts' allowlists are compared with the cards and members "
        "(a change made in the database directly reaches the huts within this); changes the "
        "server makes itself are published right after their commit",
    )
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)

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

    @field_validator("public_base_url")
    @classmethod
    def _base(cls, url: str) -> str:
        return url.rstrip("/")

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.parse(self.mqtt_url)
