"""Where the gateway's settings come from: flags over TOOLHUT_GATEWAY_* over the TOML file
over defaults; and how a bad file or value stops it before it opens anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from hut_gateway.settings import ConfigFileError, GatewaySettings, describe_errors
from tests.support.keys import TestKeys

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "gateway.toml"


@pytest.fixture(autouse=True)
def no_gateway_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("TOOLHUT_GATEWAY_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_flags_beat_environment_beat_toml_beat_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path,
        'hut = "from-toml"\nserial = "/dev/from-toml"\nbaudrate = 9600\n'
        'mqtt_url = "mqtt://toml.example:1883"\nhomeassistant = true\n',
    )
    monkeypatch.setenv("TOOLHUT_GATEWAY_SERIAL", "/dev/from-env")
    monkeypatch.setenv("TOOLHUT_GATEWAY_BAUDRATE", "57600")
    settings = GatewaySettings.load(config=config, overrides={"baudrate": 19200})
    assert settings.hut == "from-toml"  # only in the file
    assert settings.serial == "/dev/from-env"  # env over file
    assert settings.baudrate == 19200  # flag over env over file
    assert settings.mqtt_url == "mqtt://toml.example:1883"
    assert settings.homeassistant is True
    assert settings.unlock_pulse_ms == 5000  # default
    assert settings.outbox_path == Path("data/gateway/from-toml-outbox.sqlite3")


def test_without_a_file_environment_and_flags_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLHUT_GATEWAY_HUT", "env-hut")
    monkeypatch.setenv("TOOLHUT_GATEWAY_HOMEASSISTANT", "true")
    settings = GatewaySettings.load(overrides={"serial": "/dev/ttyACM0"})
    assert (settings.hut, settings.serial, settings.homeassistant) == (
        "env-hut",
        "/dev/ttyACM0",
        True,
    )


def test_the_example_config_in_deploy_is_valid() -> None:
    settings = GatewaySettings.load(config=EXAMPLE)
    assert settings.serial.startswith("/dev/")
    assert settings.data_dir.is_absolute()


def test_metrics_are_off_unless_set_and_on_at_9108_on_this_pi_in_the_example() -> None:
    assert GatewaySettings(hut="h1", serial="/dev/x").metrics_port == 0  # tests, demo: off
    example = GatewaySettings.load(config=EXAMPLE)
    assert (example.metrics_host, example.metrics_port) == ("127.0.0.1", 9108)
    flags = GatewaySettings.load(config=EXAMPLE, overrides={"metrics_port": 0})
    assert flags.metrics_port == 0
    with pytest.raises(ValidationError) as caught:
        GatewaySettings(hut="h1", serial="/dev/x", metrics_port=70_000)
    assert "Prometheus metrics" in describe_errors(caught.value)


def test_unknown_keys_and_bad_values_are_named_with_what_the_field_is_for(tmp_path: Path) -> None:
    config = write(
        tmp_path, 'hut = "Hut 7"\nserial = "/dev/x"\nunlock_pulse_ms = 10\ncolour = "red"\n'
    )
    with pytest.raises(ValidationError) as caught:
        GatewaySettings.load(config=config)
    text = describe_errors(caught.value)
    assert "hut:" in text and "this hut's id" in text
    assert "unlock_pulse_ms:" in text and "how long the lock stays released" in text
    assert "colour: unknown setting; known:" in text and "unlock_pulse_ms" in text


def test_a_missing_or_broken_file_and_an_unknown_variable_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigFileError, match="cannot read config file"):
        GatewaySettings.load(config=tmp_path / "absent.toml")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        GatewaySettings.load(config=write(tmp_path, "hut = \n"))
    monkeypatch.setenv("TOOLHUT_GATEWAY_SERIALL", "/dev/typo")
    with pytest.raises(ConfigFileError, match="TOOLHUT_GATEWAY_SERIALL"):
        GatewaySettings.load(overrides={"hut": "h1", "serial": "/dev/x"})


def run_gateway(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``toolhut gateway ARGS`` (with ``check``: ``--check-config``)."""
    args = (*args, "--check-config") if check else args
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOOLHUT_GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "toolhut_cli.cli", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **(env or {})},
    )


def test_the_command_exits_2_with_a_clear_message_on_a_bad_config(tmp_path: Path) -> None:
    config = write(tmp_path, 'hut = "h1"\nserial = "/dev/x"\nresend_after_s = -1\n')
    result = run_gateway("--config", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "bad settings" in result.stderr
    assert "resend_after_s: Input should be greater than 0" in result.stderr
    assert "publish an event again if the server has not acked it" in result.stderr

    result = run_gateway("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "cannot read config file" in result.stderr


def test_check_config_shows_the_merged_settings(tmp_path: Path) -> None:
    credentials = TestKeys(tmp_path).credentials_file("h2", broker_user=True)
    config = write(
        tmp_path, f'hut = "h1"\nserial = "/dev/from-toml"\ncredentials_file = "{credentials}"\n'
    )
    result = run_gateway(
        "--config", str(config), "--check-config", "--no-homeassistant", "--hut", "h2",
        "--metrics-port", "9200",
        env={"TOOLHUT_GATEWAY_SERIAL": "/dev/from-env", "TOOLHUT_GATEWAY_HOMEASSISTANT": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"hut": "h2"' in result.stdout
    assert '"serial": "/dev/from-env"' in result.stdout
    assert '"homeassistant": false' in result.stdout
    assert '"metrics_port": 9200' in result.stdout
    assert f'"credentials_file": "{credentials}"' in result.stdout


def test_the_gateway_does_not_start_without_its_own_credentials(tmp_path: Path) -> None:
    keys = TestKeys(tmp_path)
    base = ("--hut", "h1", "--serial", "/dev/x", "--data-dir", str(tmp_path / "gw"))
    result = run_gateway(*base)
    assert result.returncode == 2
    assert "no credentials file" in result.stderr
    assert "toolhut server mqtt-auth" in result.stderr
    assert "TOOLHUT_GATEWAY_CREDENTIALS_FILE" in result.stderr
    result = run_gateway(*base, "--credentials", str(keys.credentials_file("h2")))
    assert result.returncode == 2
    assert "is for hut 'h2', this gateway is hut 'h1'" in result.stderr
    result = run_gateway(*base, "--credentials", str(tmp_path / "absent.toml"))
    assert result.returncode == 2 and "cannot read credentials file" in result.stderr
    broken = write(tmp_path, "hut = 'h1'\nhut_key = 'abc'\n")
    result = run_gateway(*base, check=True, env={"TOOLHUT_GATEWAY_CREDENTIALS_FILE": str(broken)})
    assert result.returncode == 2 and f"credentials file {broken}" in result.stderr
    assert not (tmp_path / "gw").exists()  # refused before anything was opened


def test_the_credentials_broker_user_is_used_unless_the_url_has_one(tmp_path: Path) -> None:
    credentials = TestKeys(tmp_path).credentials_file("h1", broker_user=True)
    settings = GatewaySettings(hut="h1", serial="/dev/x", credentials_file=credentials)
    loaded = settings.credentials()
    endpoint = settings.endpoint(loaded)
    assert (endpoint.username, endpoint.password) == ("hut.h1", loaded.mqtt_password)
    own = settings.model_copy(update={"mqtt_url": "mqtt://me:pw@broker:1883"})
    assert (own.endpoint(loaded).username, own.endpoint(loaded).password) == ("me", "pw")
    assert loaded.mqtt_password is not None and loaded.mqtt_password not in settings.shown()
    assert loaded.key.hex() not in settings.shown()


def test_health_limits_come_from_the_settings_and_passwords_are_not_shown(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        'hut = "h1"\nserial = "/dev/x"\nheld_open_s = 90\ncontroller_silent_s = 10\n'
        'mqtt_url = "mqtt://hut:s3cret@broker.local:1883"\n',
    )
    settings = GatewaySettings.load(config=config)
    limits = settings.health_limits()
    assert (limits.held_open_s, limits.controller_silent_s, limits.enrol_s) == (90, 10, 300)
    shown = settings.shown()
    assert "s3cret" not in shown and "mqtt://hut:***@broker.local:1883" in shown
    with pytest.raises(ValidationError, match="held_open_s"):
        GatewaySettings.load(config=config, overrides={"held_open_s": 0})
