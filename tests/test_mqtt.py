"""toolhut/mqtt.py and the settings built on it: mqtts:// URLs, TLS files checked at start,
and a broker password that no message, repr or settings dump shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hut_gateway.settings import GatewaySettings, describe_errors
from server.settings import ServerSettings
from toolhut.mqtt import MqttEndpoint, MqttUrlError, TlsFiles, mask_url

PASSWORD = "pa@ss:w/rd"
URL = "mqtt://hut.a:pa%40ss%3Aw%2Frd@broker.example:1883"


def test_mqtts_defaults_to_8883_and_shows_no_credentials() -> None:
    endpoint = MqttEndpoint.parse("mqtts://u:secret@broker.example")
    assert (endpoint.port, endpoint.tls, endpoint.url) == (
        8883,
        TlsFiles(),
        "mqtts://broker.example:8883",
    )
    assert MqttEndpoint.parse("mqtt://broker.example").tls is None
    assert "secret" not in repr(endpoint)
    with pytest.raises(MqttUrlError, match=r"u:\*\*\*@") as err:
        MqttEndpoint.parse("http://u:secret@broker.example")
    assert "secret" not in str(err.value)


def test_mask_url_hides_a_percent_encoded_password() -> None:
    assert MqttEndpoint.parse(URL).password == PASSWORD
    assert mask_url(URL) == "mqtt://hut.a:***@broker.example:1883"
    assert mask_url("mqtt://broker.example") == "mqtt://broker.example"


def test_tls_files_must_exist_pair_up_and_go_with_mqtts(tmp_path: Path) -> None:
    ca, cert = tmp_path / "ca.crt", tmp_path / "hut.crt"
    ca.write_text("x")
    cert.write_text("x")
    tls = MqttEndpoint.parse("mqtts://broker.example")
    assert tls.with_tls_files(TlsFiles(ca_file=ca)).tls == TlsFiles(ca_file=ca)
    with pytest.raises(MqttUrlError, match="go together"):
        tls.with_tls_files(TlsFiles(ca_file=ca, cert_file=cert))
    with pytest.raises(MqttUrlError, match="does not exist"):
        tls.with_tls_files(TlsFiles(ca_file=tmp_path / "missing.crt"))
    with pytest.raises(MqttUrlError, match="not mqtts"):
        MqttEndpoint.parse("mqtt://broker.example").with_tls_files(TlsFiles(ca_file=ca))


def test_gateway_settings_refuse_bad_tls_files_and_never_show_the_password(
    tmp_path: Path,
) -> None:
    base = {"hut": "hut-a", "serial": "/dev/null"}
    with pytest.raises(ValidationError) as err:
        GatewaySettings(**base, mqtt_url="mqtts://broker.example", mqtt_ca_file=tmp_path / "no")
    assert "does not exist" in describe_errors(err.value)
    with pytest.raises(ValidationError) as err:
        GatewaySettings(**base, mqtt_url=URL, mqtt_ca_file=tmp_path / "no")
    assert "not mqtts" in describe_errors(err.value)
    assert "pa%40ss" not in describe_errors(err.value)  # a model-level error's input
    with pytest.raises(ValidationError) as err:
        GatewaySettings(**base, mqtt_url=URL.replace("1883", "99999999"))
    assert "pa%40ss" not in describe_errors(err.value)
    assert "hut.a:***@" in describe_errors(err.value)
    shown = GatewaySettings(**base, mqtt_url=URL).shown()
    assert "pa%40ss" not in shown and PASSWORD not in shown and "hut.a:***@" in shown


def test_server_reads_its_broker_password_from_a_file(tmp_path: Path) -> None:
    password_file = tmp_path / "server-mqtt-password"
    password_file.write_text(PASSWORD + "\n")
    settings = ServerSettings(mqtt_url="mqtt://broker.example", mqtt_password_file=password_file)
    endpoint = settings.mqtt
    assert (endpoint.username, endpoint.password) == ("toolhut-server", PASSWORD)
    named = ServerSettings(mqtt_url="mqtt://other@broker.example", mqtt_password_file=password_file)
    assert named.mqtt.username == "other"
    with pytest.raises(ValidationError, match="password file is set too"):
        ServerSettings(mqtt_url=URL, mqtt_password_file=password_file)
    with pytest.raises(ValidationError, match="cannot read MQTT password file"):
        ServerSettings(mqtt_password_file=tmp_path / "missing")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        ServerSettings(mqtt_password_file=tmp_path / "empty")
