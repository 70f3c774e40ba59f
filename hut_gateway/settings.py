"""The gateway's one settings object.

Precedence, highest first: command-line flags, ``TOOLHUT_GATEWAY_*`` environment variables,
the TOML file given with ``--config`` (flat keys named as the fields below), defaults. A key
that is unknown or a value that is wrong stops the gateway at start, with the field's
description (``describe_errors``).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hut_gateway.health import HealthLimits
from toolhut.contract import HUT_ID_PATTERN, Topics
from toolhut.hut_keys import HutCredentials, SecretFileError
from toolhut.mqtt import MqttEndpoint, MqttUrlError, TlsFiles, mask_url

ENV_PREFIX = "TOOLHUT_GATEWAY_"


class ConfigFileError(ValueError):
    """The TOML file named with --config is missing, unreadable or not TOML, or an
    environment variable with our prefix names no setting."""


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    hut: Annotated[
        str, Field(pattern=HUT_ID_PATTERN, description="this hut's id, e.g. hut-07 (a-z 0-9 - _)")
    ]
    serial: str = Field(description="controller serial device, e.g. /dev/toolhut-controller")
    baudrate: int = Field(115200, gt=0, description="controller serial speed")
    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="broker, mqtt[s]://[user[:password]@]host[:port]; mqtts:// is TLS (8883)",
    )
    mqtt_ca_file: Path | None = Field(
        None, description="CA certificate that signed the broker's (mqtts://); unset: system CAs"
    )
    mqtt_cert_file: Path | None = Field(
        None, description="client certificate for a broker that asks for one (with the key)"
    )
    mqtt_key_file: Path | None = Field(None, description="the client certificate's private key")
    topic_prefix: str = Field("toolhut", description="first topic level(s) of the MQTT contract")
    # Optional here so the settings can be shown and checked without it; the gateway itself
    # does not start without it (credentials()).
    credentials_file: Path | None = Field(
        None,
        description="this hut's credentials file (hut key, broker user and password), "
        "written by `toolhut server mqtt-auth`; required to run",
    )
    data_dir: Path = Field(
        Path("data/gateway"), description="folder for the outbox and the allowlist"
    )
    unlock_pulse_ms: int = Field(
        5000, ge=500, le=30_000, description="how long the lock stays released, 500-30000 ms"
    )
    session_idle_s: float = Field(
        120.0, gt=0, description="an access session with the door shut ends after this idle time"
    )
    # Server feedback for a scan is shown only this long after the scan; an ack that comes
    # back after an outage must not beep at the next resident.
    feedback_window_s: float = Field(
        10.0, gt=0, description="server feedback older than this is not shown at the hut"
    )
    resend_after_s: float = Field(
        30.0, gt=0, description="publish an event again if the server has not acked it by then"
    )
    drain_window: int = Field(
        500,
        ge=1,
        le=5000,
        description="events published but not yet acked by the server, at most; keep it "
        "below the broker's max_queued_messages",
    )
    reconnect_min_s: float = Field(
        1.0, gt=0, le=60, description="first wait before reconnecting to the broker"
    )
    reconnect_max_s: float = Field(
        60.0, gt=0, le=3600, description="longest wait between broker reconnect attempts"
    )
    status_interval_s: float = Field(
        60.0, ge=5, description="retained status is published this often, and on change"
    )
    homeassistant: bool = Field(
        False, description="publish Home Assistant MQTT discovery messages (retained)"
    )
    homeassistant_prefix: str = Field(
        "homeassistant", description="Home Assistant's MQTT discovery prefix"
    )
    # Off unless set: tests, the demo and a bench of gateways on one machine must not fight
    # over one port; deploy/gateway.toml (a Pi's own file) turns it on at 9108.
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="port of the gateway's own Prometheus metrics (/metrics); 0: off",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="address the metrics port listens on; 127.0.0.1: this Pi only",
    )
    held_open_s: float = Field(
        60.0, gt=0, description="door open longer than this raises held-open (gateway backstop)"
    )
    controller_silent_s: float = Field(
        6.0, gt=0, description="no frame from the controller for this long: controller silent"
    )
    reopen_first_s: float = Field(
        0.5, gt=0, description="first wait before reopening a lost serial device"
    )
    reopen_max_s: float = Field(
        30.0, gt=0, description="longest wait between serial reopen attempts"
    )
    enrol_s: float = Field(
        300.0,
        gt=0,
        description="the longest a staff enrol command waits for a card (its expiry: sooner)",
    )

    def health_limits(self) -> HealthLimits:
        return HealthLimits(
            held_open_s=self.held_open_s,
            controller_silent_s=self.controller_silent_s,
            reopen_first_s=self.reopen_first_s,
            reopen_max_s=max(self.reopen_max_s, self.reopen_first_s),
            enrol_s=self.enrol_s,
        )

    def credentials(self) -> HutCredentials:
        """This hut's credentials, or SecretFileError saying what is wrong with them."""
        if self.credentials_file is None:
            raise SecretFileError(
                "no credentials file: set credentials_file (env "
                f"{ENV_PREFIX}CREDENTIALS_FILE, flag --credentials) to the file "
                "`toolhut server mqtt-auth` wrote for this hut"
            )
        credentials = HutCredentials.load(self.credentials_file)
        if credentials.hut != self.hut:
            raise SecretFileError(
                f"credentials file {self.credentials_file} is for hut {credentials.hut!r}, "
                f"this gateway is hut {self.hut!r}"
            )
        return credentials

    def endpoint(self, credentials: HutCredentials) -> MqttEndpoint:
        """The broker (with its TLS files), and the credentials file's user unless the URL
        names its own."""
        endpoint = self.mqtt
        if endpoint.username or credentials.mqtt_username is None:
            return endpoint
        return replace(
            endpoint, username=credentials.mqtt_username, password=credentials.mqtt_password
        )

    def shown(self) -> str:
        """The settings as JSON for people, with any broker password masked."""
        data = self.model_dump(mode="json")
        data["mqtt_url"] = mask_url(self.mqtt_url)
        return json.dumps(data, indent=2, ensure_ascii=False)

    @property
    def mqtt(self) -> MqttEndpoint:
        """The broker endpoint, with its TLS files for mqtts://."""
        return MqttEndpoint.parse(self.mqtt_url).with_tls_files(
            TlsFiles(self.mqtt_ca_file, self.mqtt_cert_file, self.mqtt_key_file)
        )

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, url: str) -> str:
        MqttEndpoint.parse(url)
        return url

    @model_validator(mode="after")
    def _mqtt_endpoint(self) -> Self:
        try:
            self.mqtt  # noqa: B018 - the TLS files exist and pair up
        except MqttUrlError as exc:
            raise ValueError(str(exc)) from exc
        return self

    @field_validator("topic_prefix", "homeassistant_prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        Topics(prefix)
        return prefix

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env file and no secrets dir on a Pi: only flags, environment and the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @classmethod
    def load(
        cls,
        *,
        config: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> GatewaySettings:
        """Settings from ``overrides`` (the flags), the environment and the TOML ``config``.

        Raises ConfigFileError for a missing or malformed file or an unknown
        ``TOOLHUT_GATEWAY_*`` variable, ValidationError for bad keys or values."""
        unknown = sorted(
            key
            for key in os.environ
            if key.upper().startswith(ENV_PREFIX)
            and key[len(ENV_PREFIX) :].lower() not in cls.model_fields
        )
        if unknown:
            # pydantic-settings ignores them; a typo would silently keep the default.
            raise ConfigFileError(
                f"unknown environment variable {', '.join(unknown)}; known: "
                + ", ".join(ENV_PREFIX + name.upper() for name in cls.model_fields)
            )
        if config is None:
            return cls(**dict(overrides or {}))
        try:
            with open(config, "rb") as f:
                tomllib.load(f)
        except OSError as exc:
            raise ConfigFileError(f"cannot read config file {config}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigFileError(f"config file {config} is not valid TOML: {exc}") from exc
        # A subclass that knows its file: pydantic-settings reads toml_file from model_config.
        reading = type(
            cls.__name__, (cls,), {"model_config": {**cls.model_config, "toml_file": config}}
        )
        return reading(**dict(overrides or {}))

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / f"{self.hut}-outbox.sqlite3"

    @property
    def allowlist_path(self) -> Path:
        return self.data_dir / f"{self.hut}-allowlist.json"


def describe_errors(exc: ValidationError) -> str:
    """One line per bad setting, with what the field is for, or the keys that exist."""
    fields = GatewaySettings.model_fields
    lines = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        if error["type"] == "extra_forbidden":
            lines.append(f"  {name}: unknown setting; known: {', '.join(sorted(fields))}")
            continue
        # A check of the whole object gets the whole input: too much to show, and the URL
        # in it may carry a password.
        shown = error["type"] != "missing" and bool(error["loc"])
        given = f" (got {_masked(error.get('input'))!r})" if shown else ""
        field = fields.get(str(error["loc"][0])) if error["loc"] else None
        what = f"\n      {name} is {field.description}" if field and field.description else ""
        env = f" [env {ENV_PREFIX}{name.upper()}]" if field else ""
        lines.append(f"  {name}: {error['msg']}{given}{env}{what}")
    return "\n".join(lines)


def _masked(value: Any) -> Any:
    # A bad mqtt_url is shown as given, but never with its password.
    return mask_url(value) if isinstance(value, str) else value
