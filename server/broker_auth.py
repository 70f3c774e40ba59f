"""What Mosquitto needs to let each hut and the server do their part, and nothing else:
its password file, its ACL file, and each hut's credentials file (``toolhut server
mqtt-auth``).

Every password is derived from the server secret (toolhut/hut_keys.py), so writing the
files again gives every user the password it already has; a line of the password file
whose hash still matches is kept as it is, so an unchanged hut leaves the file unchanged.

Mosquitto checks a subscription's messages against the ACL as it delivers each one
(2.0 grants every SUBSCRIBE, ``$share/<group>/...`` included, and drops what the
subscriber may not read), and drops a publish its sender may not write; so the ACL
below names exact topics and the server's ``+`` patterns, nothing broader.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from toolhut.contract import TopicKind, Topics
from toolhut.homeassistant_topics import discovery_topics
from toolhut.hut_keys import SERVER_MQTT_USER, HutKeyring, hut_mqtt_user, write_private

# What mosquitto_passwd 2.0 writes: $7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>.
# The passwords are 32 random-looking characters, so the iteration count is no defence
# that matters; 101 keeps each connection cheap for the broker, as mosquitto_passwd does.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
SERVER_PASSWORD_FILE = "server-mqtt-password"
HUTS_DIR = "huts"

_HEADER = "# Written by `toolhut server mqtt-auth`; edits are lost when it runs again.\n"


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2.x password hash (``$7$...``) of ``password``."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), salt, PBKDF2_ITERATIONS, dklen=HASH_BYTES
    )
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def password_matches(encoded: str, password: str) -> bool:
    """Whether a ``$7$`` hash (any iteration count) is the hash of ``password``."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[:2] != ["", "7"]:
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    if not 0 < iterations <= 1_000_000:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)


def password_file(users: Mapping[str, str], *, previous: str = "") -> str:
    """The password file for ``users`` (name -> password), keeping each line of the
    ``previous`` file whose hash still matches, so the same passwords give the same file."""
    kept: dict[str, str] = {}
    for line in previous.splitlines():
        name, sep, encoded = line.partition(":")
        if sep and name in users and password_matches(encoded, users[name]):
            kept[name] = encoded
    lines = [f"{name}:{kept.get(name) or password_hash(users[name])}" for name in users]
    return "\n".join(lines) + "\n"


def acl_file(
    *, topics: Topics, huts: Iterable[str], homeassistant_prefix: str | None = None
) -> str:
    """The ACL: the server reads every hut's events and status and writes their acks,
    commands and allowlists; each hut writes only its own events and status (and its own
    Home Assistant discovery topics, if ``homeassistant_prefix`` is given) and reads only
    its own ack, commands and allowlist. No topic is open to anyone else."""
    out = [_HEADER, f"# Prefix {topics.prefix}; a user not named here may do nothing.\n"]
    out.append(f"\nuser {SERVER_MQTT_USER}\n")
    for kind in (TopicKind.EVENTS, TopicKind.STATUS):
        out.append(f"topic read {topics.all_huts(kind)}\n")
    for kind in (TopicKind.ACK, TopicKind.CMD, TopicKind.ALLOWLIST):
        out.append(f"topic write {topics.all_huts(kind)}\n")
    for hut in huts:
        out.append(f"\nuser {hut_mqtt_user(hut)}\n")
        for kind in (TopicKind.EVENTS, TopicKind.STATUS):
            out.append(f"topic write {topics.for_hut(hut, kind)}\n")
        if homeassistant_prefix is not None:
            for topic in discovery_topics(hut, homeassistant_prefix):
                out.append(f"topic write {topic}\n")
        for kind in (TopicKind.ACK, TopicKind.CMD, TopicKind.ALLOWLIST):
            out.append(f"topic read {topics.for_hut(hut, kind)}\n")
    return "".join(out)


@dataclass
class Written:
    """What ``write_broker_auth`` did, for the command to tell (never a password)."""

    changed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def write_broker_auth(
    out: Path,
    *,
    keyring: HutKeyring,
    huts: Iterable[str],
    topics: Topics,
    homeassistant_prefix: str | None = None,
) -> Written:
    """Write ``out/passwd``, ``out/acl``, ``out/server-mqtt-password`` and one
    ``out/huts/<hut>.toml`` per hut, all 0600; remove the credentials files of huts not
    in ``huts``."""
    huts = sorted(set(huts))
    written = Written()
    users = {SERVER_MQTT_USER: keyring.broker_password(SERVER_MQTT_USER)}
    for hut in huts:
        user = hut_mqtt_user(hut)
        users[user] = keyring.broker_password(user)
    passwd = out / PASSWORD_FILE
    _write(passwd, password_file(users, previous=_read(passwd)).encode(), written)
    acl = acl_file(topics=topics, huts=huts, homeassistant_prefix=homeassistant_prefix)
    _write(out / ACL_FILE, acl.encode(), written)
    _write(out / SERVER_PASSWORD_FILE, users[SERVER_MQTT_USER].encode() + b"\n", written)
    huts_dir = out / HUTS_DIR
    for hut in huts:
        _write(huts_dir / f"{hut}.toml", keyring.credentials(hut).to_toml(), written)
    if huts_dir.is_dir():
        for stale in sorted(huts_dir.glob("*.toml")):
            if stale.stem not in huts:
                stale.unlink()
                written.removed.append(stale)
    return written


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""  # nothing to keep: every line is hashed afresh


def _write(path: Path, data: bytes, written: Written) -> None:
    try:
        same = path.read_bytes() == data and (path.stat().st_mode & 0o777) == 0o600
    except OSError:
        same = False
    if same:
        written.unchanged.append(path)
        return
    write_private(path, data)
    written.changed.append(path)
