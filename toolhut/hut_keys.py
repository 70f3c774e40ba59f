"""The keys that make the MQTT wire trustworthy whatever the broker lets through.

The server holds one random **server secret** (a file, never on the wire). Each hut's
**hut key** is derived from it (HMAC-SHA256 of the hut id), so the server needs nothing
per hut and a hut's key reveals nothing of another hut's. The gateway holds only its own
hut key, in the credentials file ``toolhut server mqtt-auth`` writes for it.

From a hut key come three sub-keys, one per use:

- the **MAC key** seals every message of the contract (events, acks, commands, status,
  allowlists) with an HMAC-SHA256 over the exact bytes, bound to the topic kind, so a
  message is accepted only from the other end of the wire;
- the **card key** keys the allowlist's card hashes, so a UID cannot be guessed from a
  list (the salt alone, which travels, is not enough);
- the **outbox key** encrypts events at rest in the gateway's outbox.

A sealed message is the message's JSON with the MAC as its first member::

    {"mac":"<64 hex digits>","v":1,"hut":...}

The MAC covers ``b"toolhut/v1/<kind>\\n"`` followed by the JSON with that member taken
out (``{"v":1,"hut":...}``), byte for byte: nothing is re-serialised to check it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import tomllib
from base64 import urlsafe_b64encode
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from toolhut.contract import CARD_TAG_BYTES, VERSION, ContractError, TopicKind, check_hut_id

SECRET_BYTES = 32
SERVER_MQTT_USER = "toolhut-server"
_KEYRING_CACHE = 4096  # huts' keys kept derived; a flood of made-up hut ids cannot grow it

_MAC_HEAD = b'{"mac":"'
_MAC_HEX = 64
_MAC_END = len(_MAC_HEAD) + _MAC_HEX  # where the closing quote of the MAC is
_SEALED_MIN = _MAC_END + 2  # the closing quote and brace, at least


class SecretFileError(ValueError):
    """A secret or credentials file that is missing, unreadable or malformed."""


def _derive(key: bytes, label: str) -> bytes:
    return hmac.new(key, f"toolhut {VERSION} {label}".encode(), hashlib.sha256).digest()


def hut_mqtt_user(hut: str) -> str:
    """The broker user name of a hut: ``hut.<hut id>`` (a hut id never holds a '.')."""
    return f"hut.{check_hut_id(hut)}"


def broker_password(server_secret: bytes, username: str) -> str:
    """The broker password of a user, derived from the server secret: running
    ``mqtt-auth`` again gives every hut the password it already has."""
    return urlsafe_b64encode(_derive(server_secret, f"mqtt password {username}")).decode()[:32]


@dataclass(frozen=True, slots=True)
class HutKey:
    """One hut's key and what is derived from it; the gateway's and the server's copies
    of it are the same."""

    hut: str
    key: bytes = field(repr=False)
    mac_key: bytes = field(init=False, repr=False)
    card_key: bytes = field(init=False, repr=False)
    outbox_key: bytes = field(init=False, repr=False)
    # One HMAC per kind with the key set up and the kind's line fed in: each seal or check
    # copies it (about 2 us) instead of setting the key up again.
    _macs: dict[TopicKind, hmac.HMAC] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_hut_id(self.hut)
        if len(self.key) != SECRET_BYTES:
            raise SecretFileError(f"a hut key is {SECRET_BYTES} bytes, got {len(self.key)}")
        mac_key = _derive(self.key, "mac")
        object.__setattr__(self, "mac_key", mac_key)
        object.__setattr__(self, "card_key", _derive(self.key, "cards"))
        object.__setattr__(self, "outbox_key", _derive(self.key, "outbox"))
        macs = {}
        for kind in TopicKind:
            macs[kind] = hmac.new(mac_key, f"toolhut/{VERSION}/{kind.value}\n".encode(), "sha256")
        object.__setattr__(self, "_macs", macs)

    @classmethod
    def derive(cls, server_secret: bytes, hut: str) -> HutKey:
        return cls(hut, _derive(server_secret, f"hut key {check_hut_id(hut)}"))

    def _mac(self, kind: TopicKind, body: bytes) -> bytes:
        mac = self._macs[kind].copy()  # holds b"toolhut/<version>/<kind>\n" already
        mac.update(body)
        return mac.hexdigest().encode()

    def seal(self, kind: TopicKind, body: bytes) -> bytes:
        """``body`` (a JSON object, as ``model.to_bytes()`` gives it) with its MAC."""
        if not body.startswith(b"{") or body.startswith(_MAC_HEAD):
            raise ValueError("seal takes one unsealed JSON object")
        rest = body[1:]
        joiner = b"" if rest.lstrip().startswith(b"}") else b","
        return _MAC_HEAD + self._mac(kind, body) + b'"' + joiner + rest

    def unseal(self, kind: TopicKind, payload: bytes) -> bytes:
        """The JSON inside a sealed message, or ContractError if it was not sealed with
        this hut's key for this kind of topic (forged, altered, or meant elsewhere)."""
        if len(payload) < _SEALED_MIN or not payload.startswith(_MAC_HEAD):
            raise ContractError(f"unauthenticated {kind.value} message: no MAC")
        given = payload[len(_MAC_HEAD) : _MAC_END]
        tail = payload[_MAC_END:]
        if tail.startswith(b'",'):
            body = b"{" + tail[2:]
        elif tail.startswith(b'"') and tail[1:].lstrip().startswith(b"}"):  # sealed {}
            body = b"{" + tail[1:]
        else:
            raise ContractError(f"unauthenticated {kind.value} message: malformed MAC")
        if not hmac.compare_digest(given, self._mac(kind, body)):
            raise ContractError(
                f"unauthenticated {kind.value} message: MAC does not match hut {self.hut!r}"
            )
        return body

    def card_hash(self, salt: str, card: str) -> str:
        """What an allowlist holds for a card: keyed with the card key, which never
        travels, and the list's salt, so two lists name the same card differently."""
        message = f"{salt}:{card.upper()}".encode()
        return hmac.new(self.card_key, message, hashlib.sha256).hexdigest()

    def card_tag(self, salt: str, card: str) -> bytes:
        """The short form of ``card_hash`` for a list's ``elsewhere_tags``: the same message,
        keyed BLAKE2b of CARD_TAG_BYTES bytes (a card of another hut needs no more: see
        docs/mqtt-contract.md)."""
        return self.card_tags(salt, [card.upper().encode()])[0]

    def card_tags(self, salt: str, cards: Iterable[bytes]) -> list[bytes]:
        """``card_tag`` of each of ``cards`` (UIDs in uppercase, encoded): the keyed state
        after the salt is made once and copied for each card (the server tags every card
        of the district for each hut's list)."""
        head = hashlib.blake2b(f"{salt}:".encode(), key=self.card_key, digest_size=CARD_TAG_BYTES)
        tags = []
        for card in cards:
            state = head.copy()
            state.update(card)
            tags.append(state.digest())
        return tags


class HutKeyring:
    """The server's view: every hut's key, derived on first use from the server secret."""

    def __init__(self, server_secret: bytes) -> None:
        if len(server_secret) < SECRET_BYTES:
            raise SecretFileError(f"the server secret must be at least {SECRET_BYTES} bytes")
        self._secret = server_secret
        self._keys: dict[str, HutKey] = {}

    def __call__(self, hut: str) -> HutKey:
        key = self._keys.get(hut)
        if key is None:
            if len(self._keys) >= _KEYRING_CACHE:
                self._keys.clear()
            key = self._keys[hut] = HutKey.derive(self._secret, hut)
        return key

    def broker_password(self, username: str) -> str:
        return broker_password(self._secret, username)

    def credentials(self, hut: str) -> HutCredentials:
        user = hut_mqtt_user(hut)
        return HutCredentials(hut, self(hut).key, user, self.broker_password(user))


def _private_temp(path: Path, data: bytes) -> Path:
    """A new file beside ``path`` holding ``data``, 0600 whatever the umask, on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner can read (0600, whatever the umask),
    replacing any file there at once."""
    os.replace(_private_temp(path, data), path)


def create_private(path: Path, data: bytes) -> bool:
    """Like write_private, but only if there is no file at ``path`` yet: False (and the
    file left as it is) if another process was first."""
    tmp = _private_temp(path, data)
    try:
        os.link(tmp, path)  # fails if the name exists: no process overwrites another's
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def new_secret_file(path: Path) -> bytes:
    """Create a new random server secret at ``path`` (0600) and return it."""
    secret = secrets.token_bytes(SECRET_BYTES)
    write_private(path, secret.hex().encode() + b"\n")
    return secret


def load_or_create_secret(path: Path) -> tuple[bytes, bool]:
    """The server secret at ``path``, created (random, 0600) if there is no file: (secret,
    created). Two servers starting at once end up with the same secret, the first's."""
    if not path.exists():
        secret = secrets.token_bytes(SECRET_BYTES)
        try:
            if create_private(path, secret.hex().encode() + b"\n"):
                return secret, True
        except OSError as exc:
            raise SecretFileError(f"cannot create secret file {path}: {exc.strerror}") from exc
    return read_secret_file(path), False


def read_secret_file(path: Path) -> bytes:
    """The server secret: hex digits, at least 32 bytes' worth."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise SecretFileError(f"cannot read secret file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SecretFileError(f"secret file {path} is not hex digits") from exc
    try:
        secret = bytes.fromhex(text)
    except ValueError as exc:
        raise SecretFileError(f"secret file {path} is not hex digits") from exc
    if len(secret) < SECRET_BYTES:
        raise SecretFileError(
            f"secret file {path} holds {len(secret)} bytes; at least {SECRET_BYTES} are needed"
        )
    return secret


@dataclass(frozen=True, slots=True)
class HutCredentials:
    """What one hut's gateway needs from the server's side, in one file (0600) to copy
    onto its Pi: its hut key, and its broker user and password."""

    hut: str
    key: bytes = field(repr=False)
    mqtt_username: str | None = None
    mqtt_password: str | None = field(default=None, repr=False)

    @property
    def hut_key(self) -> HutKey:
        return HutKey(self.hut, self.key)

    def to_toml(self) -> bytes:
        lines = [
            f"# Credentials of hut {self.hut}: give them to its gateway only, keep them 0600.",
            f"hut = {_toml_string(self.hut)}",
            f"hut_key = {_toml_string(self.key.hex())}",
        ]
        if self.mqtt_username is not None:
            lines.append(f"mqtt_username = {_toml_string(self.mqtt_username)}")
        if self.mqtt_password is not None:
            lines.append(f"mqtt_password = {_toml_string(self.mqtt_password)}")
        return ("\n".join(lines) + "\n").encode()

    def write(self, path: Path) -> None:
        write_private(path, self.to_toml())

    @classmethod
    def load(cls, path: Path) -> HutCredentials:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise SecretFileError(f"cannot read credentials file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SecretFileError(f"credentials file {path} is not valid TOML: {exc}") from exc
        unknown = set(data) - {"hut", "hut_key", "mqtt_username", "mqtt_password"}
        if unknown:
            raise SecretFileError(f"credentials file {path}: unknown keys {sorted(unknown)}")
        not_text = sorted(k for k, v in data.items() if not isinstance(v, str))
        if not_text:
            raise SecretFileError(f"credentials file {path}: {not_text} must be text")
        try:
            hut = check_hut_id(data["hut"])
            key = bytes.fromhex(data["hut_key"])
            creds = cls(hut, key, data.get("mqtt_username"), data.get("mqtt_password"))
            creds.hut_key  # noqa: B018 - checks the key's length
        except KeyError as exc:
            raise SecretFileError(f"credentials file {path} has no {exc.args[0]!r}") from exc
        except (ValueError, ContractError) as exc:
            raise SecretFileError(f"credentials file {path}: {exc}") from exc
        return creds


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string (the same escapes), whatever the text holds.
    return json.dumps(text)
