"""TLS to the broker (``mqtts://``) against a real Mosquitto TLS listener with a CA made for
the test, and a real server and gateway process reaching it with per-hut passwords that
never show in anything they print."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from server.broker_auth import ACL_FILE, PASSWORD_FILE, SERVER_PASSWORD_FILE, write_broker_auth
from tests.support.mqtt_probe import Probe
from tests.support.processes import ToolhutProcess, run_toolhut
from tests.support.services import unique_prefix
from tests.support.tls import Pki, make_pki
from toolhut.contract import Topics
from toolhut.hut_keys import SERVER_MQTT_USER, HutKeyring, new_secret_file
from toolhut.mqtt import MqttEndpoint, TlsFiles
from toolhut_cli.embedded_broker import free_port
from toolhut_cli.mosquitto import BrokerAuth, BrokerTls, MosquittoProcess, mosquitto_binary

pytestmark = pytest.mark.e2e


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def binary() -> str:
    found = mosquitto_binary()
    if found is None:
        pytest.skip("mosquitto is not installed: TLS broker tests skipped")
    return found


@pytest.fixture
def tls_broker(binary: str, pki: Pki) -> Iterator[MosquittoProcess]:
    broker = MosquittoProcess(binary, tls=BrokerTls(pki.ca, pki.server_cert, pki.server_key))
    broker.start()
    yield broker
    broker.stop()


def connects(endpoint: MqttEndpoint) -> bool:
    probe = Probe(endpoint)
    try:
        return probe.connect()
    finally:
        probe.close()


def test_a_client_with_the_ca_connects_and_one_without_is_refused(
    tls_broker: MosquittoProcess, pki: Pki
) -> None:
    endpoint = tls_broker.endpoint
    assert connects(replace(endpoint, tls=TlsFiles(ca_file=pki.ca)))
    assert not connects(replace(endpoint, tls=TlsFiles())), "system CAs trusted our test CA"
    assert not connects(replace(endpoint, tls=TlsFiles(ca_file=pki.other_ca)))
    assert not connects(replace(endpoint, tls=None)), "plain MQTT got through a TLS listener"


def test_a_broker_that_requires_client_certificates_takes_only_ours(binary: str, pki: Pki) -> None:
    tls = BrokerTls(pki.ca, pki.server_cert, pki.server_key, require_certificate=True)
    broker = MosquittoProcess(binary, tls=tls)
    endpoint = broker.start()
    try:
        assert not connects(replace(endpoint, tls=TlsFiles(ca_file=pki.ca)))
        with_cert = TlsFiles(ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key)
        assert connects(replace(endpoint, tls=with_cert))
    finally:
        broker.stop()


def test_server_and_gateway_processes_over_tls_with_passwords_that_never_show(
    tmp_path: Path, binary: str, pki: Pki
) -> None:
    prefix, hut = unique_prefix(), f"tls-{uuid.uuid4().hex[:6]}"
    secret_file = tmp_path / "server-secret"
    keyring = HutKeyring(new_secret_file(secret_file))
    auth = tmp_path / "auth"
    write_broker_auth(auth, keyring=keyring, huts=[hut], topics=Topics(prefix))
    broker = MosquittoProcess(
        binary,
        auth=BrokerAuth(auth / PASSWORD_FILE, auth / ACL_FILE),
        tls=BrokerTls(pki.ca, pki.server_cert, pki.server_key, require_certificate=True),
    )
    endpoint = broker.start()
    port = endpoint.port
    creds = keyring.credentials(hut)
    assert creds.mqtt_password is not None
    passwords = [creds.mqtt_password, keyring.broker_password(SERVER_MQTT_USER)]
    tls_env = {"MQTT_CA_FILE": pki.ca, "MQTT_CERT_FILE": pki.client_cert}
    tls_env["MQTT_KEY_FILE"] = pki.client_key

    db = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    seeded = run_toolhut("server", "seed", "--db", db, "--hut", hut)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    server_env = {f"TOOLHUT_SERVER_{k}": str(v) for k, v in tls_env.items()}
    server_env["TOOLHUT_SERVER_MQTT_PASSWORD_FILE"] = str(auth / SERVER_PASSWORD_FILE)
    server_env["TOOLHUT_SERVER_SECRET_FILE"] = str(secret_file)
    gateway_env = {f"TOOLHUT_GATEWAY_{k}": str(v) for k, v in tls_env.items()}
    credentials = str(auth / "huts" / f"{hut}.toml")
    gateway_env["TOOLHUT_GATEWAY_CREDENTIALS_FILE"] = credentials
    gateway_url = f"mqtts://{creds.mqtt_username}:{creds.mqtt_password}@127.0.0.1:{port}"

    server = ToolhutProcess(
        "server", "--db", db, "--mqtt", f"mqtts://127.0.0.1:{port}", "--prefix", prefix,
        "--port", str(free_port()), env=server_env,
    )  # fmt: skip
    gateway = None
    try:
        server.expect(r"ingest worker connected", timeout=30)
        gateway = ToolhutProcess(
            "gateway", "--hut", hut, "--serial", str(tmp_path / "no-controller"),
            "--mqtt", gateway_url, "--prefix", prefix, "--data-dir", str(tmp_path / "gw"),
            env=gateway_env,
        )  # fmt: skip
        gateway.expect(rf"connected to broker mqtts://127\.0\.0\.1:{port}", timeout=30)
        # The server's list for this hut crossed the broker to the gateway: both ACLs and
        # both TLS clients did their part.
        gateway.expect(r"allowlist version \d+", timeout=30)
    finally:
        if gateway is not None:
            gateway.stop()
        server.stop()
        broker.stop()

    checked = run_toolhut("gateway", "--hut", hut, "--serial", "/dev/null",
                          "--mqtt", gateway_url, "--credentials", credentials,
                          "--check-config")  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bad_port = gateway_url.replace(str(port), "99999999")
    refused_gateway = run_toolhut("gateway", "--hut", hut, "--serial", "/dev/null",
                                  "--mqtt", bad_port, "--credentials", credentials)  # fmt: skip
    refused_server = run_toolhut("server", "--mqtt", bad_port, "--db", db)
    assert refused_gateway.returncode != 0 and refused_server.returncode != 0
    outputs = {
        "server": "\n".join(server.lines),
        "gateway": "\n".join(gateway.lines if gateway else []),
        "gateway --check-config": checked.stdout + checked.stderr,
        "gateway with a bad URL": refused_gateway.stdout + refused_gateway.stderr,
        "server with a bad URL": refused_server.stdout + refused_server.stderr,
    }
    assert "mqtt_url" in outputs["gateway --check-config"]
    assert "port" in outputs["server with a bad URL"]
    for name, text in outputs.items():
        for password in passwords:
            assert password not in text, f"{name} printed a broker password:\n{text}"
