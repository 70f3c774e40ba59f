from __future__ import annotations

from pathlib import Path

import pytest

from hut_gateway.allowlist import AllowlistStore
from toolhut.contract import Allowlist, ContractError, hash_card, utc_now

SALT = "0123456789abcdef"


def allowlist(version: int, *cards: str, hut: str = "h1") -> bytes:
    return Allowlist(
        hut=hut, version=version, issued=utc_now(), salt=SALT,
        cards=[hash_card(SALT, c) for c in cards],
    ).to_bytes()  # fmt: skip


def test_newer_allowlist_replaces_older_and_persists_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.json"
    store = AllowlistStore(path, hut="h1")
    assert not store.admits("04A1B2C3")
    assert store.offer(allowlist(1, "04A1B2C3"))
    assert store.admits("04a1b2c3")  # UIDs compare case-blind
    assert store.offer(allowlist(2, "04D5E6F7"))
    assert not store.admits("04A1B2C3")
    assert "04D5E6F7" not in path.read_text()

    reopened = AllowlistStore(path, hut="h1")  # after a power cut, with no network
    assert reopened.version == 2
    assert reopened.admits("04D5E6F7")


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b'{"v":1,"hut":"h1"}', allowlist(9, "04D5E6F7", hut="h2")],
    ids=["empty", "garbage", "missing-fields", "other-hut"],
)
def test_bad_allowlist_is_refused_and_the_last_good_one_kept(
    tmp_path: Path, payload: bytes
) -> None:
    store = AllowlistStore(tmp_path / "a.json", hut="h1")
    assert store.offer(allowlist(5, "04A1B2C3"))
    with pytest.raises(ContractError):
        store.offer(payload)
    assert store.version == 5
    assert store.admits("04A1B2C3")


def test_older_or_same_allowlist_is_ignored(tmp_path: Path) -> None:
    store = AllowlistStore(tmp_path / "a.json", hut="h1")
    assert store.offer(allowlist(5, "04A1B2C3"))
    assert not store.offer(allowlist(5, "04A1B2C3"))
    assert not store.offer(allowlist(4, "04D5E6F7"))
    assert store.admits("04A1B2C3") and not store.admits("04D5E6F7")


def test_corrupt_file_on_disk_is_reported_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"\x00\x01 torn write")
    store = AllowlistStore(path, hut="h1")
    assert store.version is None
    assert "unreadable" in caplog.text
