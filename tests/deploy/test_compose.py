"""docker-compose.yml against the Compose Specification's schema: no Docker engine runs on CI
machines, so this is the check that the file is a valid Compose file at all."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from hut_gateway.settings import GatewaySettings
from server.broker_auth import write_broker_auth
from tests.support.mqtt_probe import Probe
from tests.support.processes import poll_until
from toolhut.contract import Topics
from toolhut.hut_keys import SERVER_MQTT_USER, HutKeyring
from toolhut.mqtt import MqttEndpoint
from toolhut_cli.embedded_broker import free_port
from toolhut_cli.mosquitto import mosquitto_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    # The schema names its draft by a URL jsonschema does not know; say it explicitly.
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    return jsonschema.Draft201909Validator(schema)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification(
    compose: dict, validator: jsonschema.Draft201909Validator
) -> None:
    validator.validate(compose)


def test_a_broken_compose_file_is_caught(
    compose: dict, validator: jsonschema.Draft201909Validator
) -> None:
    broken = {**compose, "services": {**compose["services"], "server": {"imagee": "typo"}}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_full_stack_services_and_wiring(compose: dict) -> None:
    services = compose["services"]
    assert {"mosquitto", "postgres", "server", "hut"} <= services.keys()
    assert "mqtt://mosquitto:1883" in services["server"]["environment"].values()
    assert "mqtt://mosquitto:1883" in services["hut"]["environment"].values()
    # Every file the stack mounts or builds from exists in the repository.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert (ROOT / "Dockerfile").exists()


def test_no_shared_staff_token_is_shipped(compose: dict) -> None:
    # Staff sign in with their own accounts (create-user): no token in the environment.
    environment = compose["services"]["server"]["environment"]
    assert not any("TOKEN" in name for name in environment), environment
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text and "create-user" in text


def _mounts(service: dict) -> dict[str, str]:
    """Target folder -> source, for every volume of ``service``."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def _under(path: str, mounts: dict[str, str], source: str) -> bool:
    return any(path.startswith(target + "/") for target, s in mounts.items() if s == source)


def test_the_broker_takes_only_the_users_mqtt_auth_writes(compose: dict) -> None:
    services = compose["services"]
    broker, auth = services["mosquitto"], services["mqtt-auth"]
    conf = {
        key: value
        for key, _, value in (
            line.partition(" ")
            for line in (ROOT / "deploy/mosquitto.conf").read_text().splitlines()
            if line and not line.startswith("#")
        )
    }
    assert conf["allow_anonymous"] == "false"
    assert "ports" not in broker, "the plain listener must not be published to the host"
    assert conf["listener"] == "1883"  # the only one; the TLS one is commented out
    # After a broker outage every hut drains its window at once: the server's queue holds
    # a district's (Mosquitto's default, 1000, is two huts' and drops the rest unsaid).
    window = GatewaySettings.model_fields["drain_window"].default
    assert int(conf["max_queued_messages"]) >= 500 * window
    # The password and ACL files come from the mqtt-auth volume, written before the broker
    # starts, by the command that writes them.
    command = " ".join(auth["command"])
    out = command.split("--out ", 1)[1].split()[0]
    assert "toolhut server mqtt-auth" in command
    volume = _mounts(auth)[out]
    assert volume in compose["volumes"]
    broker_mounts = _mounts(broker)
    for key in ("password_file", "acl_file"):
        assert _under(conf[key], broker_mounts, volume), (key, conf[key])
    assert broker["depends_on"]["mqtt-auth"]["condition"] == "service_completed_successfully"
    assert auth["depends_on"]["seed"]["condition"] == "service_completed_successfully"
    assert f"chown 1883:1883 {out}/passwd {out}/acl" in command
    # The server logs in with its password file; the hut with its credentials file.
    server_env, hut_env = services["server"]["environment"], services["hut"]["environment"]
    assert _under(
        server_env["TOOLHUT_SERVER_MQTT_PASSWORD_FILE"], _mounts(services["server"]), volume
    )
    assert _under(hut_env["TOOLHUT_GATEWAY_CREDENTIALS_FILE"], _mounts(services["hut"]), volume)
    assert hut_env["TOOLHUT_GATEWAY_CREDENTIALS_FILE"].endswith(
        f"/huts/{hut_env['TOOLHUT_GATEWAY_HUT']}.toml"
    )
    # mqtt-auth and the server use one server secret.
    assert (
        auth["environment"]["TOOLHUT_SERVER_SECRET_FILE"]
        == server_env["TOOLHUT_SERVER_SECRET_FILE"]
    )
    assert not any("PASSWORD" in key for key in hut_env)


def test_the_deployed_mosquitto_conf_runs_and_refuses_anonymous_clients(tmp_path: Path) -> None:
    """deploy/mosquitto.conf itself, on the real broker: only its paths and port moved."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed: the deployed broker config is not run")
    keyring = HutKeyring(secrets.token_bytes(32))
    write_broker_auth(tmp_path / "auth", keyring=keyring, huts=["demo-hut"], topics=Topics())
    (tmp_path / "data").mkdir()
    port = free_port()
    conf = (ROOT / "deploy/mosquitto.conf").read_text()
    conf = conf.replace("/mosquitto/auth/", f"{tmp_path}/auth/")
    conf = conf.replace("/mosquitto/data/", f"{tmp_path}/data/")
    conf = conf.replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    if os.geteuid() == 0:
        conf += "user root\n"  # else it drops to 'mosquitto', who cannot read root's files
    (tmp_path / "mosquitto.conf").write_text(conf)
    with open(tmp_path / "mosquitto.log", "wb") as log:
        proc = subprocess.Popen(
            [binary, "-c", str(tmp_path / "mosquitto.conf")], stdout=log, stderr=log
        )
    endpoint = MqttEndpoint("127.0.0.1", port)
    try:
        poll_until(lambda: endpoint.reachable() or proc.poll() is not None, timeout=10)
        assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
        anonymous = Probe(endpoint)
        assert not anonymous.connect()
        anonymous.close()
        server = Probe(
            endpoint, user=SERVER_MQTT_USER, password=keyring.broker_password(SERVER_MQTT_USER)
        )
        assert server.connect()
        server.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_server_is_healthy_once_ready(compose: dict) -> None:
    """The healthcheck asks /readyz (database, broker, migrations), not /healthz (alive):
    the hut starts once the server can take its events."""
    server = compose["services"]["server"]
    assert "/readyz" in " ".join(server["healthcheck"]["test"])
    assert compose["services"]["hut"]["depends_on"]["server"]["condition"] == "service_healthy"
