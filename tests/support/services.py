"""Real services for the tests: an MQTT broker and PostgreSQL.

The machine's Mosquitto and PostgreSQL are used when they answer. Without them the suite
still runs: a Mosquitto the tests start themselves (if the binary is installed), else the
embedded amqtt broker; PostgreSQL tests are skipped with the reason printed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from toolhut.mqtt import MqttEndpoint
from toolhut_cli.embedded_broker import EmbeddedBroker
from toolhut_cli.mosquitto import MosquittoProcess, mosquitto_binary

MACHINE_BROKER = os.environ.get("TOOLHUT_TEST_MQTT", "mqtt://127.0.0.1:1883")
MACHINE_POSTGRES = os.environ.get(
    "TOOLHUT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Broker:
    endpoint: MqttEndpoint
    kind: str  # "machine mosquitto", "mosquitto started by the tests", "embedded amqtt"

    @property
    def url(self) -> str:
        return self.endpoint.url


@contextmanager
def mqtt_broker() -> Iterator[Broker]:
    """TOOLHUT_TEST_MQTT: a broker URL to use (default the machine's), or "embedded"."""
    if MACHINE_BROKER != "embedded":
        machine = MqttEndpoint.parse(MACHINE_BROKER)
        if machine.reachable():
            yield Broker(machine, f"broker at {machine.url}")
            return
    binary = mosquitto_binary() if MACHINE_BROKER != "embedded" else None
    own: MosquittoProcess | EmbeddedBroker
    if binary:
        own, kind = MosquittoProcess(binary), "mosquitto started by the tests"
    else:
        own, kind = EmbeddedBroker(), "embedded amqtt (no mosquitto installed)"
    endpoint = own.start()
    try:
        yield Broker(endpoint, f"{kind} at {endpoint.url}")
    finally:
        own.stop()


def postgres_admin_url() -> str | None:
    """The machine's PostgreSQL if it answers, else None (the caller skips loudly)."""
    try:
        import psycopg
    except ImportError:
        return None
    url = MACHINE_POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, connect_timeout=3):
            return MACHINE_POSTGRES
    except psycopg.Error:
        return None


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``admin_url``, dropped afterwards."""
    import psycopg

    name = f"toolhut_test_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_postgres_schema(database_url: str) -> Iterator[str]:
    """A new schema in the database of ``database_url``, dropped afterwards; the URL
    returned puts it first on the search path, for this process and any it starts."""
    import psycopg

    from server.storage import normalize_db_url

    plain = normalize_db_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{database_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def unique_prefix() -> str:
    return f"toolhut-test-{uuid.uuid4().hex[:10]}"
