"""The real parts the benches run on: a private Mosquitto (TCP_NODELAY, as deployed), the
machine's PostgreSQL when it answers, and a scratch database of either kind.

The PostgreSQL half is the tests' own (tests/support/services.py): one way to find the
server and make a throw-away schema, whoever needs it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import MACHINE_POSTGRES, fresh_postgres_schema, postgres_admin_url
from toolhut.mqtt import MqttEndpoint
from toolhut_cli.mosquitto import MosquittoProcess, mosquitto_binary

__all__ = [
    "MACHINE_POSTGRES",
    "DATABASES",
    "databases",
    "private_broker",
    "scratch_db",
]

DATABASES = ("sqlite", "postgresql")


def _binary() -> str:
    binary = mosquitto_binary()
    if binary is None:
        raise SystemExit("the benchmarks need the mosquitto binary (apt-get install mosquitto)")
    return binary


@contextmanager
def private_broker(port: int | None = None) -> Iterator[MqttEndpoint]:
    """A Mosquitto of the bench's own, stopped after: no other client shares it."""
    broker = MosquittoProcess(_binary(), port=port)
    endpoint = broker.start()
    try:
        yield endpoint
    finally:
        broker.stop()


def databases(only: str | None = None) -> list[str]:
    """The database kinds to measure on: SQLite always, PostgreSQL when it answers (else
    said once, and skipped)."""
    kinds = [k for k in DATABASES if only in (None, k)]
    if "postgresql" in kinds and postgres_admin_url() is None:
        print(f"PostgreSQL at {MACHINE_POSTGRES.split('@')[-1]} does not answer: skipped")
        kinds.remove("postgresql")
    return kinds


@contextmanager
def scratch_db(kind: str, *, name: str = "bench") -> Iterator[str]:
    """A new, empty database of ``kind``: a SQLite file in a temporary folder, or a new
    schema of the machine's PostgreSQL (its URL puts the schema first on the search path,
    for this process and any it starts); removed after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"toolhut-{name}-") as tmp:
            yield f"sqlite:///{Path(tmp) / f'{name}.sqlite3'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        raise SystemExit(f"PostgreSQL at {MACHINE_POSTGRES.split('@')[-1]} does not answer")
    with fresh_postgres_schema(admin) as url:
        yield url
