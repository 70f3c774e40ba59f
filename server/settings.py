"""The server's one settings object: environment ``TOOLHUT_SERVER_*`` or arguments."""

from __future__ import annotations

import os
import secrets
import socket

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.reminders.config import ReminderSettings
from toolhut.contract import DEFAULT_PREFIX, Topics
from toolhut.mqtt import MqttEndpoint

MIN_STAFF_TOKEN = 16
# Tokens shipped in examples and tried first by anyone guessing, compared without case
# and without punctuation ("Change_Me" is "changeme").
PLACEHOLDER_TOKENS = frozenset(
    {
        "changeme",
        "changeit",
        "secret",
        "password",
        "passw0rd",
        "token",
        "stafftoken",
        "admin",
        "default",
        "example",
        "test",
        "toolhut",
    }
)
TEXT_PLACEHOLDER_TOKEN = (
    "员工令牌是示例占位符，请设置随机值 / the staff token is a known placeholder: set a random "
    "one, e.g. `openssl rand -hex 24`"
)
TEXT_SHORT_TOKEN = (
    "员工令牌至少16个字符 / the staff token must be at least 16 characters: set a random "
    "one, e.g. `openssl rand -hex 24`"
)


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
    forwarded_allow_ips: str | None = Field(
        None,
        description="behind a reverse proxy: the proxy's address(es), comma-separated, whose "
        "X-Forwarded-For/-Proto uvicorn trusts (client address for throttling, https scheme); "
        "unset: no forwarded header is trusted (see docs/security.md)",
    )
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)

    @field_validator("staff_token")
    @classmethod
    def _real_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is None:
            return None
        value = token.get_secret_value()
        bare = "".join(c for c in value.lower() if c.isalnum())
        if bare in PLACEHOLDER_TOKENS or "changeme" in bare:
            raise ValueError(TEXT_PLACEHOLDER_TOKEN)
        if len(value) < MIN_STAFF_TOKEN:
            raise ValueError(TEXT_SHORT_TOKEN)
        return token

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
