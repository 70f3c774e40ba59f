from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hut_gateway.allowlist import AllowlistStore
from toolhut.contract import (
    MAX_WIRE_INT,
    Allowlist,
    CardState,
    ContractError,
    TopicKind,
    parse_allowlist,
    utc_now,
)
from toolhut.hut_keys import HutKeyring

SALT = "0123456789abcdef"
HEAD = {"v": 1, "hut": "h1", "issued": "2026-11-27T02:00:00Z", "salt": SALT}
RING = HutKeyring(b"s" * 32)
KEY = RING("h1")


def unsealed(version: int, *cards: str, hut: str = "h1") -> Allowlist:
    key = RING(hut)
    return Allowlist(
        hut=hut, version=version, issued=utc_now(), salt=SALT,
        cards=[key.card_hash(SALT, c) for c in cards],
    )  # fmt: skip


def allowlist(version: int, *cards: str, hut: str = "h1") -> bytes:
    return unsealed(version, *cards, hut=hut).sealed(RING(hut))


def test_newer_allowlist_replaces_older_and_persists_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.json"
    store = AllowlistStore(path, key=KEY)
    assert not store.admits("04A1B2C3")
    assert store.offer(allowlist(1, "04A1B2C3"))
    assert store.admits("04a1b2c3")  # UIDs compare case-blind
    assert store.offer(allowlist(2, "04D5E6F7"))
    assert not store.admits("04A1B2C3")
    assert "04D5E6F7" not in path.read_text()

    reopened = AllowlistStore(path, key=KEY)  # after a power cut, with no network
    assert reopened.version == 2
    assert reopened.admits("04D5E6F7")


def forged(version: int) -> bytes:
    """What an attacker without the key can do: a list of its own, or the MAC of another."""
    mac = allowlist(1, "04A1B2C3")[:74]
    return mac + unsealed(version, "DEADBEEF").to_bytes()[1:]


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b'{"v":1,"hut":"h1"}',
        allowlist(9, "04D5E6F7", hut="h2"),
        unsealed(MAX_WIRE_INT, "DEADBEEF").to_bytes(),
        forged(MAX_WIRE_INT),
        RING("h2").seal(TopicKind.ALLOWLIST, unsealed(9, "DEADBEEF").to_bytes()),
        KEY.seal(TopicKind.STATUS, unsealed(9, "DEADBEEF").to_bytes()),
    ],
    ids=[
        "empty", "garbage", "missing-fields", "other-hut", "unsealed-huge-version",
        "forged-mac", "other-hut-key", "sealed-as-status",
    ],
)  # fmt: skip
def test_bad_allowlist_is_refused_and_the_last_good_one_kept(
    tmp_path: Path, payload: bytes
) -> None:
    store = AllowlistStore(tmp_path / "a.json", key=KEY)
    assert store.offer(allowlist(5, "04A1B2C3"))
    with pytest.raises(ContractError):
        store.offer(payload)
    assert store.version == 5
    assert store.admits("04A1B2C3") and not store.admits("DEADBEEF")
    assert AllowlistStore(tmp_path / "a.json", key=KEY).version == 5  # nor stored


def test_older_or_same_allowlist_is_ignored(tmp_path: Path) -> None:
    store = AllowlistStore(tmp_path / "a.json", key=KEY)
    assert store.offer(allowlist(5, "04A1B2C3"))
    assert not store.offer(allowlist(5, "04A1B2C3"))
    assert not store.offer(allowlist(4, "04D5E6F7"))
    assert store.admits("04A1B2C3") and not store.admits("04D5E6F7")


def test_corrupt_file_on_disk_is_reported_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"\x00\x01 torn write")
    store = AllowlistStore(path, key=KEY)
    assert store.version is None
    assert "not trusted" in caplog.text


def test_a_list_planted_in_the_file_is_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.json"
    AllowlistStore(path, key=KEY).offer(allowlist(3, "04A1B2C3"))
    path.write_bytes(unsealed(4, "DEADBEEF").to_bytes())  # someone with the SD card
    store = AllowlistStore(path, key=KEY)
    assert store.version is None and not store.admits("DEADBEEF")
    assert "no MAC" in caplog.text
    path.write_bytes(allowlist(4, "DEADBEEF", hut="h2"))  # another hut's, sealed
    assert AllowlistStore(path, key=KEY).version is None
    path.write_bytes(allowlist(4, "DEADBEEF"))  # what the server sealed: trusted
    assert AllowlistStore(path, key=KEY).admits("DEADBEEF")


def test_card_hashes_need_the_hut_key_not_only_the_salt(tmp_path: Path) -> None:
    store = AllowlistStore(tmp_path / "a.json", key=KEY)
    assert store.offer(allowlist(1, "04A1B2C3"))
    # A gateway with another hut's key cannot read the list, even given its salt.
    other = unsealed(1, "04A1B2C3")
    assert other.state_of("04A1B2C3", key=KEY) is CardState.ACTIVE
    assert other.state_of("04A1B2C3", key=RING("h2")) is None


def listed(version: int, *, active: tuple[str, ...] = (), suspended: tuple[str, ...] = (),
           lost: tuple[str, ...] = ()) -> bytes:  # fmt: skip
    return Allowlist(
        hut="h1", version=version, issued=utc_now(), salt=SALT,
        cards=[KEY.card_hash(SALT, c) for c in active],
        suspended=[KEY.card_hash(SALT, c) for c in suspended],
        lost=[KEY.card_hash(SALT, c) for c in lost],
    ).sealed(KEY)  # fmt: skip


def test_the_list_tells_suspended_and_lost_cards_from_unknown_ones_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "allowlist.json"
    store = AllowlistStore(path, key=KEY)
    assert store.state_of("04A1B2C3") is None  # no list yet
    assert store.offer(listed(1, active=("04A1B2C3",), suspended=("04D5E6F7",), lost=("0B0B0B0B",)))
    reopened = AllowlistStore(path, key=KEY)  # offline, after a power cut
    assert reopened.state_of("04a1b2c3") is CardState.ACTIVE
    assert reopened.state_of("04D5E6F7") is CardState.SUSPENDED
    assert reopened.state_of("0B0B0B0B") is CardState.LOST
    assert reopened.state_of("DEADBEEF") is None
    assert not reopened.admits("04D5E6F7") and not reopened.admits("0B0B0B0B")
    for uid in ("04A1B2C3", "04D5E6F7", "0B0B0B0B"):
        assert uid not in path.read_text()


def test_a_list_without_states_reads_as_before_and_empty_states_are_left_out() -> None:
    drill = KEY.card_hash(SALT, "04A1B2C3")
    old_format = json.dumps({**HEAD, "version": 3, "cards": [drill]}).encode()
    parsed = parse_allowlist(KEY.seal(TopicKind.ALLOWLIST, old_format), key=KEY)
    assert parsed.state_of("04A1B2C3", key=KEY) is CardState.ACTIVE
    assert parsed.suspended is None and parsed.lost is None
    # A list with nobody suspended or lost is, on the wire, what an older gateway accepts.
    assert b"suspended" not in listed(4, active=("04A1B2C3",))
    assert b"lost" not in listed(4, active=("04A1B2C3",))


def test_a_card_in_two_states_is_refused(tmp_path: Path) -> None:
    store = AllowlistStore(tmp_path / "a.json", key=KEY)
    assert store.offer(listed(1, active=("04A1B2C3",)))
    drill = KEY.card_hash(SALT, "04A1B2C3")
    both = json.dumps({**HEAD, "version": 2, "cards": [drill], "lost": [drill]}).encode()
    with pytest.raises(ContractError, match="more than one state"):
        store.offer(KEY.seal(TopicKind.ALLOWLIST, both))
    assert store.version == 1 and store.admits("04A1B2C3")


def test_other_huts_cards_read_elsewhere_as_tags_or_as_hashes(tmp_path: Path) -> None:
    """A newer server names them by short tags; an older one (or one set to hashes for a
    fleet not yet upgraded) by hashes: either way the door says 此卡不能开这间工具屋,
    after a restart too, and an unlisted card stays unknown."""
    mine, theirs, unknown = "04A1B2C3", "0B0B0B0B", "0C0C0C0C"
    path = tmp_path / "allowlist.json"
    store = AllowlistStore(path, key=KEY)
    tags = base64.b64encode(KEY.card_tag(SALT, theirs)).decode()
    assert store.offer(unsealed(1, mine).model_copy(update={"elsewhere_tags": tags}).sealed(KEY))
    assert store.state_of(theirs.lower()) is CardState.ELSEWHERE
    assert store.state_of(mine) is CardState.ACTIVE and store.state_of(unknown) is None
    assert AllowlistStore(path, key=KEY).state_of(theirs) is CardState.ELSEWHERE
    hashed = unsealed(2, mine).model_copy(update={"elsewhere": [KEY.card_hash(SALT, theirs)]})
    assert store.offer(hashed.sealed(KEY))
    assert store.state_of(theirs) is CardState.ELSEWHERE and store.state_of(unknown) is None
