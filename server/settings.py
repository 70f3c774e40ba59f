"""The server's one settings object: environment ``TOOLHUT_SERVER_*`` or arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.accounts.config import AccountSettings
from server.alarms.config import AlarmSettings
from server.client_ids import unique_client_id
from server.clock_settings import ClockSettings
from server.hut_state.config import HutStateSettings
from server.reminders.config import ReminderSettings
from server.reports.config import ReportSettings
from server.residents.config import MY_PAGE, ResidentSettings
from toolhut.contract import DEFAULT_PREFIX, Topics
from toolhut.hut_keys import SERVER_MQTT_USER
from toolhut.mqtt import MqttEndpoint, MqttUrlError, TlsFiles


def _default_client_id() -> str:
    return unique_client_id("server")


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOOLHUT_SERVER_", env_nested_delimiter="__", extra="forbid"
    )

    db_url: str = Field(
        "sqlite:///data/toolhut.sqlite3",
        description="SQLAlchemy URL; postgresql://... is run with psycopg 3",
    )
    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="mqtt[s]://[user[:pw]@]host[:port]; mqtts:// is TLS (port 8883 by default)",
    )
    mqtt_password_file: Path | None = Field(
        None,
        description="file holding the broker password (mqtt-auth writes server-mqtt-password), "
        f"so it is not in the URL; the user is the URL's, or {SERVER_MQTT_USER}",
    )
    mqtt_ca_file: Path | None = Field(
        None, description="CA certificate that signed the broker's (mqtts://); unset: system CAs"
    )
    mqtt_cert_file: Path | None = Field(
        None, description="client certificate for a broker that asks for one (with the key)"
    )
    mqtt_key_file: Path | None = Field(None, description="the client certificate's private key")
    secret_file: Path = Field(
        Path("data/server-secret"),
        description="the server secret every hut's key and broker password derive from; "
        "created if missing; every server process of one database uses the same file",
    )
    topic_prefix: str = Field(DEFAULT_PREFIX, description="first topic level(s) of the contract")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535, description="HTTP port; 0 picks a free one")
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
    allowlist_elsewhere_tags: bool = Field(
        True,
        description="name the cards of other huts in a hut's allowlist by short tags "
        "(elsewhere_tags, 4 bytes a card); false: by full hashes, for gateways older than "
        "the tags, which refuse a list that has them (docs/mqtt-contract.md)",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="behind a reverse proxy: the proxy's address(es), comma-separated, whose "
        "X-Forwarded-For/-Proto uvicorn trusts (client address for throttling, https scheme); "
        "unset: no forwarded header is trusted (see docs/security.md)",
    )
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    residents: ResidentSettings = Field(default_factory=ResidentSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    hut_state: HutStateSettings = Field(default_factory=HutStateSettings)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, url: str) -> str:
        MqttEndpoint.parse(url)
        return url

    @model_validator(mode="after")
    def _mqtt_endpoint(self) -> Self:
        try:
            self.mqtt  # noqa: B018 - TLS files exist and pair up, the password file reads
        except MqttUrlError as exc:
            raise ValueError(str(exc)) from exc
        return self

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        Topics(prefix)
        return prefix

    @field_validator("public_base_url")
    @classmethod
    def _base(cls, url: str) -> str:
        return url.rstrip("/")

    @model_validator(mode="after")
    def _my_page(self) -> Self:
        """Messages to a member link to their own page on this server unless told where."""
        if self.reminders.my_page_url is None:
            url = f"{self.public_base_url}{MY_PAGE}"
            self.reminders = self.reminders.model_copy(update={"my_page_url": url})
        return self

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def mqtt(self) -> MqttEndpoint:
        """The broker endpoint with its TLS files and the password from its file."""
        endpoint = MqttEndpoint.parse(self.mqtt_url).with_tls_files(
            TlsFiles(self.mqtt_ca_file, self.mqtt_cert_file, self.mqtt_key_file)
        )
        if self.mqtt_password_file is None:
            return endpoint
        return endpoint.with_password(
            read_password_file(self.mqtt_password_file), default_username=SERVER_MQTT_USER
        )


def read_password_file(path: Path) -> str:
    """The first line of ``path``; MqttUrlError if it cannot be read or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MqttUrlError(f"cannot read MQTT password file {path}: {exc}") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise MqttUrlError(f"MQTT password file {path} is empty")
    return lines[0].strip()
