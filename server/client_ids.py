"""MQTT client ids of the server's own clients (the ingest worker, the hut-state tracker).

A broker drops the older of two clients with one id, so each must be unique per settings
object, not only per process: a second client with the same id, in this process or
another, would kick the first off the broker."""

from __future__ import annotations

import os
import secrets
import socket


def unique_client_id(role: str) -> str:
    """``toolhut-<role>-<host>-<pid>-<random>``."""
    return f"toolhut-{role}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
