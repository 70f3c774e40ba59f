"""``toolhut server mqtt-auth``: the files it writes, and what a real Mosquitto started with
them lets each user do. Each broker test starts its own Mosquitto on a free port with the
generated password and ACL files (plus, for the test's eyes only, an ``admin`` user that may
read everything, to prove that a forbidden publish did not land)."""

from __future__ import annotations

import base64
import os
import queue
import secrets
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.broker_auth import (
    ACL_FILE,
    PASSWORD_FILE,
    SERVER_PASSWORD_FILE,
    acl_file,
    password_hash,
    password_matches,
    write_broker_auth,
)
from tests.support.mqtt_probe import Probe, Received, marker
from tests.support.processes import poll_until, run_toolhut
from tests.support.services import unique_prefix
from toolhut.contract import TopicKind, Topics
from toolhut.hut_keys import SERVER_MQTT_USER, HutCredentials, HutKeyring
from toolhut.mqtt import MqttEndpoint
from toolhut_cli.mosquitto import BrokerAuth, MosquittoProcess, mosquitto_binary

ADMIN, ADMIN_PASSWORD = "test-admin", "test-admin-password"

# A line mosquitto_passwd 2.0.11 wrote for user alice, password "secret".
MOSQUITTO_PASSWD_LINE = (
    "alice:$7$101$/7HYDv5i0fJZyueY$WexSBvsbegeWhs8DimQaO2Gw4qUWOJzJAXTf4APmGnG4W4DhF89uEdDd"
    "ICXwUi3jZ//vyi8pjb17jn380KlVkw=="
)


def hut_id(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the files ---------------------------------------------------------------------------


def test_password_hashes_are_the_ones_mosquitto_passwd_writes() -> None:
    user, encoded = MOSQUITTO_PASSWD_LINE.split(":", 1)
    assert password_matches(encoded, "secret")
    assert not password_matches(encoded, "Secret")
    salt = base64.b64decode(encoded.split("$")[3])
    assert password_hash("secret", salt=salt) == encoded  # byte for byte
    fresh = password_hash("secret")
    assert fresh != password_hash("secret")  # a new salt each time
    assert password_matches(fresh, "secret")
    assert not password_matches("$6$not$ours", "secret")


def test_files_are_private_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    keyring = HutKeyring(secrets.token_bytes(32))
    topics = Topics(unique_prefix())
    a, b = hut_id("a"), hut_id("b")
    out = tmp_path / "auth"
    old_umask = os.umask(0)
    try:
        first = write_broker_auth(out, keyring=keyring, huts=[a, b], topics=topics)
    finally:
        os.umask(old_umask)
    files = [out / PASSWORD_FILE, out / ACL_FILE, out / SERVER_PASSWORD_FILE]
    files += [out / "huts" / f"{a}.toml", out / "huts" / f"{b}.toml"]
    assert sorted(first.changed) == sorted(files)
    assert all(mode(path) == 0o600 for path in files), {p.name: oct(mode(p)) for p in files}
    before = {path: path.read_bytes() for path in files}

    again = write_broker_auth(out, keyring=keyring, huts=[b, a], topics=topics)
    assert again.changed == [] and again.removed == []
    assert {path: path.read_bytes() for path in files} == before
    creds = HutCredentials.load(out / "huts" / f"{a}.toml")
    assert creds == keyring.credentials(a)
    assert creds.mqtt_password is not None
    assert password_matches(_hash_of(out / PASSWORD_FILE, f"hut.{a}"), creds.mqtt_password)
    server_password = (out / SERVER_PASSWORD_FILE).read_text().strip()
    assert server_password == keyring.broker_password(SERVER_MQTT_USER)


def test_a_new_hut_is_added_and_a_deleted_one_dropped(tmp_path: Path) -> None:
    keyring = HutKeyring(secrets.token_bytes(32))
    topics = Topics(unique_prefix())
    a, b, c = hut_id("a"), hut_id("b"), hut_id("c")
    out = tmp_path / "auth"
    write_broker_auth(out, keyring=keyring, huts=[a, b], topics=topics)
    line_a = _line_of(out / PASSWORD_FILE, f"hut.{a}")

    written = write_broker_auth(out, keyring=keyring, huts=[a, c], topics=topics)
    assert written.removed == [out / "huts" / f"{b}.toml"]
    assert sorted(p.name for p in (out / "huts").iterdir()) == sorted([f"{a}.toml", f"{c}.toml"])
    passwd = (out / PASSWORD_FILE).read_text()
    assert f"hut.{b}:" not in passwd and f"hut.{c}:" in passwd
    assert _line_of(out / PASSWORD_FILE, f"hut.{a}") == line_a  # kept as it was
    acl = (out / ACL_FILE).read_text()
    assert f"user hut.{b}\n" not in acl and topics.events(b) not in acl
    assert f"topic write {topics.events(c)}\n" in acl


def test_the_acl_names_exact_topics(tmp_path: Path) -> None:
    topics = Topics(unique_prefix())
    a = hut_id("a")
    acl = acl_file(topics=topics, huts=[a], homeassistant_prefix="ha")
    hut_part = acl.split(f"user hut.{a}\n", 1)[1]
    rules = [line for line in hut_part.splitlines() if line]
    assert rules[:2] == [f"topic write {topics.events(a)}", f"topic write {topics.status(a)}"]
    assert rules[-3:] == [
        f"topic read {topics.ack(a)}",
        f"topic read {topics.cmd(a)}",
        f"topic read {topics.allowlist(a)}",
    ]
    discovery = rules[2:-3]
    assert discovery and all(r.startswith("topic write ha/") for r in discovery)
    assert all(f"/toolhut_{a}/" in r and r.endswith("/config") for r in discovery)
    assert not any(ch in r.split(" ", 2)[2] for r in rules for ch in "+#")
    assert "topic readwrite" not in acl and "pattern" not in acl
    # Without the option, no discovery topics at all.
    assert "ha/" not in acl_file(topics=topics, huts=[a])


def test_the_command_writes_every_hut_of_the_database_and_prints_no_password(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    seeded_hut, extra = hut_id("seeded"), hut_id("extra")
    seeded = run_toolhut("server", "seed", "--db", db, "--hut", seeded_hut)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    out, secret = tmp_path / "auth", tmp_path / "keys" / "server-secret"
    args = ("server", "mqtt-auth", "--db", db, "--out", str(out), "--secret-file", str(secret))
    done = run_toolhut(*args, "--hut", extra, "--prefix", "site-7")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"created a new server secret at {secret}" in done.stdout
    assert mode(secret) == 0o600
    assert f"wrote {out / 'huts' / f'{seeded_hut}.toml'}" in done.stdout
    assert f"wrote {out / 'huts' / f'{extra}.toml'}" in done.stdout
    assert "kill -HUP" in done.stdout
    assert "site-7/v1/+/events" in (out / ACL_FILE).read_text()

    again = run_toolhut(*args, "--prefix", "site-7")  # the extra hut is not given again
    assert again.returncode == 0, again.stdout + again.stderr
    assert "created" not in again.stdout
    assert f"unchanged {out / 'huts' / f'{seeded_hut}.toml'}" in again.stdout
    assert f"removed {out / 'huts' / f'{extra}.toml'}" in again.stdout

    keyring = HutKeyring(bytes.fromhex(secret.read_text().strip()))
    passwords = [keyring.broker_password(SERVER_MQTT_USER)]
    passwords += [keyring.broker_password(f"hut.{hut}") for hut in (seeded_hut, extra)]
    for output in (done.stdout + done.stderr, again.stdout + again.stderr):
        assert not any(password in output for password in passwords)

    bad = run_toolhut(*args, "--hut", "Not A Hut")
    assert bad.returncode == 2 and "invalid hut id" in bad.stderr


# -- against a real Mosquitto ------------------------------------------------------------


@dataclass
class AuthBroker:
    endpoint: MqttEndpoint
    topics: Topics
    keyring: HutKeyring
    huts: tuple[str, str]
    out: Path
    process: MosquittoProcess

    def probe(self, user: str | None = None, password: str | None = None) -> Probe:
        probe = Probe(self.endpoint, user=user, password=password)
        assert probe.connect(), f"{user} refused:\n{self.process.log_text()[-2000:]}"
        return probe

    def hut(self, hut: str) -> Probe:
        creds = self.keyring.credentials(hut)
        return self.probe(creds.mqtt_username, creds.mqtt_password)

    def server(self) -> Probe:
        return self.probe(SERVER_MQTT_USER, self.keyring.broker_password(SERVER_MQTT_USER))

    def admin(self, *, subscribed: bool = True) -> Probe:
        """Subscribed to everything under the prefix and to ``admin/#`` (its markers)."""
        admin = self.probe(ADMIN, ADMIN_PASSWORD)
        if subscribed:
            admin.subscribe(f"{self.topics.prefix}/#", "admin/#")
        return admin


def _add_admin(out: Path) -> None:
    with open(out / PASSWORD_FILE, "a") as f:
        f.write(f"{ADMIN}:{password_hash(ADMIN_PASSWORD)}\n")
    with open(out / ACL_FILE, "a") as f:
        f.write(f"\nuser {ADMIN}\ntopic readwrite #\n")


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[AuthBroker]:
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed: broker ACL tests skipped")
    keyring = HutKeyring(secrets.token_bytes(32))
    topics = Topics(unique_prefix())
    huts = (hut_id("a"), hut_id("b"))
    out = tmp_path / "auth"
    write_broker_auth(out, keyring=keyring, huts=huts, topics=topics)
    _add_admin(out)
    process = MosquittoProcess(binary, auth=BrokerAuth(out / PASSWORD_FILE, out / ACL_FILE))
    endpoint = process.start()
    try:
        yield AuthBroker(endpoint, topics, keyring, huts, out, process)
    finally:
        process.stop()


def test_anonymous_clients_and_wrong_passwords_are_refused(auth_broker: AuthBroker) -> None:
    a, b = auth_broker.huts
    keyring = auth_broker.keyring
    attempts = {
        "anonymous": (None, None),
        "hut A with hut B's password": (f"hut.{a}", keyring.broker_password(f"hut.{b}")),
        "the server with a wrong password": (SERVER_MQTT_USER, "not-the-password"),
        "a user not in the file": ("intruder", "anything"),
        "hut A with no password": (f"hut.{a}", None),
    }
    for what, (user, password) in attempts.items():
        probe = Probe(auth_broker.endpoint, user=user, password=password)
        try:
            assert not probe.connect(), f"{what} was let in"
        finally:
            probe.close()
    auth_broker.hut(a).close()  # and the right password does let it in


def test_a_hut_sends_its_own_events_and_status_and_reads_its_own_ack_cmd_allowlist(
    auth_broker: AuthBroker,
) -> None:
    topics, (a, _) = auth_broker.topics, auth_broker.huts
    server, hut = auth_broker.server(), auth_broker.hut(a)
    try:
        server.subscribe(topics.all_huts(TopicKind.EVENTS), topics.all_huts(TopicKind.STATUS))
        hut.subscribe(topics.ack(a), topics.cmd(a), topics.allowlist(a))
        hut.publish(topics.events(a), b"event")
        hut.publish(topics.status(a), b"status", retain=True)
        assert server.expect(topics.events(a)).payload == b"event"
        assert server.expect(topics.status(a)).payload == b"status"
        server.publish(topics.ack(a), b"ack")
        server.publish(topics.cmd(a), b"cmd")
        server.publish(topics.allowlist(a), b"allowlist", retain=True)
        assert hut.expect(topics.ack(a)).payload == b"ack"
        assert hut.expect(topics.cmd(a)).payload == b"cmd"
        assert hut.expect(topics.allowlist(a)).payload == b"allowlist"
    finally:
        server.close()
        hut.close()


def test_a_hut_cannot_publish_anything_but_its_own_events_and_status(
    auth_broker: AuthBroker,
) -> None:
    topics, (a, b) = auth_broker.topics, auth_broker.huts
    admin, hut = auth_broker.admin(), auth_broker.hut(a)
    try:
        forbidden = [
            topics.events(b),
            topics.status(b),
            topics.ack(a),
            topics.cmd(a),
            topics.allowlist(a),
            topics.ack(b),
            topics.cmd(b),
            topics.allowlist(b),
            f"{topics.prefix}/v1/{a}/other",
            "homeassistant/binary_sensor/x/door/config",  # no discovery without the option
            "elsewhere",
        ]
        for topic in forbidden:
            hut.publish(topic, b"forged", retain=topic.endswith("allowlist"))
        done = marker()
        hut.publish(topics.events(a), done)  # allowed, and after all of the above
        assert admin.until(done) == []

        # Nor did the retained allowlists stay behind on the broker: a new subscriber gets
        # the retained marker (published after them, ordered after them in one SUBSCRIBE)
        # and nothing before it.
        retained = marker()
        admin.publish("admin/retained", retained, retain=True)
        late = auth_broker.admin(subscribed=False)
        try:
            late.subscribe(topics.allowlist(a), topics.allowlist(b), "admin/retained")
            assert late.until(retained) == []
        finally:
            late.close()
    finally:
        admin.close()
        hut.close()


def test_a_hut_reads_nothing_of_another_hut(auth_broker: AuthBroker) -> None:
    topics, (a, b) = auth_broker.topics, auth_broker.huts
    admin, server = auth_broker.admin(), auth_broker.server()
    hut_a, hut_b = auth_broker.hut(a), auth_broker.hut(b)
    try:
        server.publish(topics.allowlist(b), b"b's list", retain=True)
        hut_a.subscribe(
            topics.ack(b),
            topics.cmd(b),
            topics.allowlist(b),
            topics.events(b),
            topics.status(b),
            topics.all_huts(TopicKind.EVENTS),
            topics.all_huts(TopicKind.ACK),
            f"{topics.prefix}/#",
            "#",
            topics.ack(a),
        )
        server.publish(topics.ack(b), b"b's ack")
        server.publish(topics.cmd(b), b"b's cmd")
        hut_b.publish(topics.events(b), b"b's event")
        hut_b.publish(topics.status(b), b"b's status", retain=True)
        # Mosquitto routes each publish to every subscriber as it takes it: once the admin
        # has hut B's status, hut A's copy, had there been one, is queued already.
        admin.expect(topics.status(b))
        done = marker()
        server.publish(topics.ack(a), done)
        seen = hut_a.until(done)
        assert [m for m in seen if m.topic != topics.ack(a)] == [], seen
    finally:
        for probe in (admin, server, hut_a, hut_b):
            probe.close()


def test_the_server_reads_events_through_a_shared_subscription_and_forges_none(
    auth_broker: AuthBroker,
) -> None:
    topics, (a, b) = auth_broker.topics, auth_broker.huts
    admin, hut = auth_broker.admin(), auth_broker.hut(a)
    workers = [auth_broker.server(), auth_broker.server()]
    try:
        for worker in workers:
            worker.subscribe(topics.shared("ingest", TopicKind.EVENTS))
        for n in range(4):
            hut.publish(topics.events(a), f"event {n}".encode())
        got = _collect(workers, 4)
        assert sorted(m.payload for m in got) == [f"event {n}".encode() for n in range(4)]

        # The server may not speak for a hut, nor read what goes to one.
        server = workers[0]
        for topic in (topics.events(b), topics.status(b), f"{topics.prefix}/elsewhere"):
            server.publish(topic, b"forged")
        done = marker()
        server.publish(topics.ack(a), done)
        assert [m for m in admin.until(done) if m.payload == b"forged"] == []
    finally:
        for probe in (admin, hut, *workers):
            probe.close()


def test_a_rerun_and_a_reload_let_a_new_hut_in_and_a_dropped_one_out(
    auth_broker: AuthBroker,
) -> None:
    a, b = auth_broker.huts
    c = hut_id("c")
    probe = Probe(auth_broker.endpoint, **_login(auth_broker.keyring, c))
    assert not probe.connect()
    probe.close()

    write_broker_auth(
        auth_broker.out, keyring=auth_broker.keyring, huts=[a, c], topics=auth_broker.topics
    )
    _add_admin(auth_broker.out)
    auth_broker.process.reload()

    def c_gets_in() -> bool:
        probe = Probe(auth_broker.endpoint, **_login(auth_broker.keyring, c))
        try:
            return probe.connect()
        finally:
            probe.close()

    poll_until(c_gets_in, timeout=10, what="the new hut let in after the reload")
    dropped = Probe(auth_broker.endpoint, **_login(auth_broker.keyring, b))
    assert not dropped.connect(), "a hut dropped from the files still got in"
    dropped.close()
    auth_broker.hut(a).close()  # the hut that stayed keeps its password


def _collect(probes: list[Probe], n: int, *, timeout: float = 10.0) -> list[Received]:
    """``n`` messages, from whichever of ``probes`` they reach."""
    got: list[Received] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} messages arrived"
        for probe in probes:
            try:
                got.append(probe.messages.get(timeout=0.05))
            except queue.Empty:
                pass
    return got


def _login(keyring: HutKeyring, hut: str) -> dict[str, str | None]:
    creds = keyring.credentials(hut)
    return {"user": creds.mqtt_username, "password": creds.mqtt_password}


def _line_of(passwd: Path, user: str) -> str:
    return next(line for line in passwd.read_text().splitlines() if line.startswith(f"{user}:"))


def _hash_of(passwd: Path, user: str) -> str:
    return _line_of(passwd, user).split(":", 1)[1]
