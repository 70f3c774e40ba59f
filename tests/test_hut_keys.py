"""The keys of the MQTT wire: seals that hold over every byte, for one hut and one kind of
topic only; keyed card hashes; the secret and credentials files, private whatever the
umask, and refused with a SecretFileError when they are not what they should be."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from toolhut.contract import (
    ContractError,
    DoorEvent,
    DoorState,
    TopicKind,
    new_id,
    offline_status,
    parse_event,
    parse_status,
    utc_now,
)
from toolhut.hut_keys import (
    SECRET_BYTES,
    HutCredentials,
    HutKey,
    HutKeyring,
    SecretFileError,
    broker_password,
    hut_mqtt_user,
    load_or_create_secret,
    read_secret_file,
)

SECRET = bytes(range(SECRET_BYTES))
RING = HutKeyring(SECRET)
KEY = RING("hut-a")


def sealed_event() -> bytes:
    event = DoorEvent(id=new_id(), hut="hut-a", seq=7, ts=utc_now(), state=DoorState.OPEN)
    return event.sealed(KEY)


def test_a_sealed_message_opens_with_its_key_and_is_the_json_with_the_mac_first() -> None:
    payload = sealed_event()
    assert payload.startswith(b'{"mac":"') and payload[72:74] == b'",'
    assert parse_event(payload, key=KEY).seq == 7
    assert KEY.unseal(TopicKind.EVENTS, payload) == b"{" + payload[74:]


@pytest.mark.parametrize(
    "region", ["mac head", "mac digits", "mac end", "joiner", "body start", "body", "last byte"]
)
def test_changing_any_byte_region_breaks_the_seal(region: str) -> None:
    payload = bytearray(sealed_event())
    where = {
        "mac head": 2,  # inside '{"mac":"'
        "mac digits": 40,
        "mac end": 72,  # the closing quote
        "joiner": 73,  # the comma
        "body start": 75,
        "body": len(payload) // 2 + 40,
        "last byte": len(payload) - 1,
    }[region]
    payload[where] ^= 0x01
    with pytest.raises(ContractError, match="unauthenticated events message"):
        KEY.unseal(TopicKind.EVENTS, bytes(payload))


def test_removed_added_or_missing_bytes_break_the_seal() -> None:
    payload = sealed_event()
    for tampered in (
        payload[:-1],
        payload + b" ",
        payload[:100] + payload[101:],
        payload.replace(b'"open"', b'"closed"'),
        b"{" + payload[74:],  # the MAC taken out: a plain, unsealed message
        b"",
        b'{"mac":"' + b"0" * 64 + b'"}',
    ):
        with pytest.raises(ContractError, match="unauthenticated"):
            KEY.unseal(TopicKind.EVENTS, tampered)


def test_a_seal_is_bound_to_the_kind_of_topic_and_to_the_hut() -> None:
    payload = offline_status("hut-a").sealed(KEY)
    assert parse_status(payload, key=KEY).hut == "hut-a"
    with pytest.raises(ContractError, match="MAC does not match"):
        KEY.unseal(TopicKind.EVENTS, payload)  # a status replayed as an event
    with pytest.raises(ContractError, match="MAC does not match hut 'hut-b'"):
        parse_status(payload, key=RING("hut-b"))  # hut A's status on hut B's topic
    # Sealed with hut B's own key but naming hut A inside: refused as well.
    inside_a = offline_status("hut-a").to_bytes()
    with pytest.raises(ContractError, match="names hut 'hut-a'"):
        parse_status(RING("hut-b").seal(TopicKind.STATUS, inside_a), key=RING("hut-b"))
    with pytest.raises(ContractError, match="sealed with hut 'hut-b'"):
        offline_status("hut-a").sealed(RING("hut-b"))


def test_the_empty_object_seals_and_opens() -> None:
    sealed = KEY.seal(TopicKind.ACK, b"{}")
    assert sealed.endswith(b'"}')
    assert KEY.unseal(TopicKind.ACK, sealed) == b"{}"
    spaced = KEY.seal(TopicKind.ACK, b"{ }")
    assert KEY.unseal(TopicKind.ACK, spaced) == b"{ }"
    with pytest.raises(ValueError, match="unsealed JSON object"):
        KEY.seal(TopicKind.ACK, sealed)
    with pytest.raises(ValueError, match="unsealed JSON object"):
        KEY.seal(TopicKind.ACK, b"[]")


def test_keys_differ_per_hut_per_secret_and_per_use() -> None:
    other = HutKeyring(bytes(reversed(SECRET)))
    assert RING("hut-a").key != RING("hut-b").key != other("hut-a").key
    assert len({KEY.mac_key, KEY.card_key, KEY.outbox_key, KEY.key}) == 4
    assert RING("hut-a") is RING("hut-a")  # derived once
    assert HutKey.derive(SECRET, "hut-a") == KEY
    assert "key" not in repr(KEY).replace("HutKey", "")


def test_card_hashes_are_keyed_salted_and_case_blind() -> None:
    a = KEY.card_hash("salt-1", "04a1b2c3")
    assert a == KEY.card_hash("salt-1", "04A1B2C3")
    assert a != KEY.card_hash("salt-2", "04A1B2C3")
    assert a != RING("hut-b").card_hash("salt-1", "04A1B2C3")
    assert len(a) == 64 and "04A1" not in a.upper()


def test_broker_passwords_are_stable_and_per_user() -> None:
    user = hut_mqtt_user("hut-a")
    assert user == "hut.hut-a"
    assert broker_password(SECRET, user) == RING.broker_password(user)
    assert broker_password(SECRET, user) != broker_password(SECRET, "hut.hut-b")
    with pytest.raises(ContractError):
        hut_mqtt_user("Hut A")


def test_credentials_round_trip_and_hide_their_secrets(tmp_path: Path) -> None:
    credentials = RING.credentials("hut-a")
    path = tmp_path / "hut-a.toml"
    credentials.write(path)
    loaded = HutCredentials.load(path)
    assert loaded == credentials
    assert loaded.hut_key == KEY
    assert loaded.mqtt_username == "hut.hut-a"
    assert credentials.mqtt_password is not None
    assert credentials.mqtt_password not in repr(loaded)
    assert KEY.key.hex() not in repr(loaded)
    bare = HutCredentials("hut-a", KEY.key)
    bare.write(path)
    assert HutCredentials.load(path) == bare


def _modes_under_umask_000(tmp_path: Path) -> dict[str, int]:
    # In a child process: the umask is process-wide, and the test runner's other threads
    # must not create files under 000.
    script = f"""
import os, sys
from pathlib import Path
from toolhut.hut_keys import HutKeyring, load_or_create_secret, new_secret_file
os.umask(0)
folder = Path({str(tmp_path)!r})
new_secret_file(folder / "new-secret")
load_or_create_secret(folder / "created-secret")
HutKeyring(bytes(32)).credentials("hut-a").write(folder / "sub" / "hut-a.toml")
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    return {
        name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        for name in ("new-secret", "created-secret", "sub/hut-a.toml")
    }


def test_secret_and_credentials_files_are_0600_under_umask_000(tmp_path: Path) -> None:
    assert _modes_under_umask_000(tmp_path) == {
        "new-secret": 0o600,
        "created-secret": 0o600,
        "sub/hut-a.toml": 0o600,
    }
    assert not [p.name for p in tmp_path.rglob(".*")]  # no temporary file left behind


def test_load_or_create_creates_once_then_reads(tmp_path: Path) -> None:
    path = tmp_path / "data" / "server-secret"
    secret, created = load_or_create_secret(path)
    assert created and len(secret) == SECRET_BYTES
    assert load_or_create_secret(path) == (secret, False)
    assert read_secret_file(path) == secret
    (tmp_path / "file").write_text("")
    with pytest.raises(SecretFileError, match="cannot create secret file"):
        load_or_create_secret(tmp_path / "file" / "server-secret")  # a file where a folder goes
    with pytest.raises(SecretFileError, match="cannot read secret file"):
        load_or_create_secret(tmp_path / "data")  # a folder where the file goes


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"not hex at all\n", "not hex digits"),
        (b"00ff\n", "holds 2 bytes"),
        (b"\xff\xfe\n", "not hex digits"),
        (b"", "holds 0 bytes"),
    ],
)
def test_bad_secret_files_give_secret_file_error(
    tmp_path: Path, content: bytes, error: str
) -> None:
    path = tmp_path / "server-secret"
    path.write_bytes(content)
    with pytest.raises(SecretFileError, match=error):
        read_secret_file(path)
    with pytest.raises(SecretFileError, match=error):
        load_or_create_secret(path)  # a bad file is never replaced by a new secret
    assert path.read_bytes() == content
    with pytest.raises(SecretFileError, match="cannot read"):
        read_secret_file(tmp_path / "missing")
    with pytest.raises(SecretFileError, match="at least 32 bytes"):
        HutKeyring(b"short")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("hut = 'hut-a'\n", "has no 'hut_key'"),
        (f"hut_key = '{'00' * 32}'\n", "has no 'hut'"),
        (f"hut = 'Hut A'\nhut_key = '{'00' * 32}'\n", "invalid hut id"),
        ("hut = 'hut-a'\nhut_key = 'zz'\n", "non-hexadecimal"),
        ("hut = 'hut-a'\nhut_key = '00ff'\n", "32 bytes, got 2"),
        (f"hut = 'hut-a'\nhut_key = '{'00' * 32}'\nextra = 1\n", "unknown keys"),
        (f"hut = 'hut-a'\nhut_key = '{'00' * 32}'\nmqtt_password = 7\n", "must be text"),
        ("hut = [unclosed\n", "not valid TOML"),
    ],
)
def test_bad_credentials_files_give_secret_file_error(
    tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(text)
    with pytest.raises(SecretFileError, match=error):
        HutCredentials.load(path)
    with pytest.raises(SecretFileError, match="cannot read"):
        HutCredentials.load(tmp_path / "missing.toml")
