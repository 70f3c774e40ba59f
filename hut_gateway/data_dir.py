"""The gateway's data folder: its user's alone whatever the umask (the folder 0700, every
file in it 0600), and the installation id kept in it."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from toolhut.hut_keys import create_private, write_private

log = logging.getLogger(__name__)

INSTALL_ID_FILE = "install-id"
_INSTALL_ID = re.compile(r"^[0-9a-f]{16}$")


def prepare(folder: Path) -> Path:
    """Create ``folder`` if need be and make it 0700 (an existing one too)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def private_file(path: Path) -> None:
    """Make ``path`` exist and be 0600, before a library (SQLite) opens it: SQLite gives
    its -wal and -shm files the mode of the database file."""
    prepare(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def tighten(*paths: Path) -> None:
    """0600 for those of ``paths`` that exist (files an older gateway left readable)."""
    for path in paths:
        try:
            os.chmod(path, 0o600)
        except FileNotFoundError:
            pass


def install_id(folder: Path) -> str:
    """This installation's random id (16 hex digits), created once in ``folder``: part of
    the MQTT client id, so no one can take the gateway's place on the broker by its name."""
    path = prepare(folder) / INSTALL_ID_FILE
    if not path.exists():
        create_private(path, secrets.token_hex(8).encode() + b"\n")  # unless one was first
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if not _INSTALL_ID.fullmatch(text):
        log.warning("install id file %s is damaged; making a new one", path)
        text = secrets.token_hex(8)
        write_private(path, text.encode() + b"\n")
    tighten(path)
    return text
