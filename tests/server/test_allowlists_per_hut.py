"""Each hut's allowlist: its members' cards (the others' are ``elsewhere`` there), its
opening hours, and the staff cards that open outside them; a change republishes only the
huts whose list it changes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from server.allowlists import CardAccessList, publish_allowlists
from server.domain import CardStatus, MemberStatus
from server.seed import seed_demo
from server.storage.models import Card, Hut, MemberHut
from server.storage.queries import CardOfMember
from toolhut.contract import Allowlist, CardState, Topics, parse_allowlist
from toolhut.hut_keys import HutKeyring
from toolhut.opening_hours import OpeningHours

from .conftest import MovableClock

HUT, OPEN_HOURS_HUT = "demo-hut", "hours-hut"
ZHANG, LI, STAFF = "04A1B2C3", "04D5E6F7", "04ABCDEF"
HOURS = OpeningHours(tz="Asia/Shanghai", week={"mon": [["08:00", "20:00"]]})
TOPICS = Topics("t")
RING = HutKeyring(b"s" * 32)


class _Publisher:
    def __init__(self) -> None:
        self.lists: dict[str, Allowlist] = {}

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> Any:
        hut, _ = TOPICS.parse(topic)
        self.lists[hut] = parse_allowlist(payload, key=RING(hut))


def _publish(
    sessions: sessionmaker[Session], clock: MovableClock, *, force: bool = False,
    tags: bool = True,
) -> dict[str, Allowlist]:  # fmt: skip
    publisher = _Publisher()
    publish_allowlists(
        sessions, publisher, topics=TOPICS, keyring=RING, clock=clock, force=force, tags=tags
    )
    return publisher.lists


def _member_of(db: Session, uid: str) -> int:
    return db.scalars(select(Card.member_id).where(Card.uid == uid)).one()


@pytest.fixture
def two_huts(sessions: sessionmaker[Session], clock: MovableClock) -> dict[str, Allowlist]:
    """The demo, a second hut with opening hours, and Li restricted to the second hut;
    every list published once."""
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
        db.add(Hut(id=OPEN_HOURS_HUT, name="第二工具屋", opening_hours=HOURS.model_dump()))
        db.flush()
        db.add(MemberHut(member_id=_member_of(db, LI), hut_id=OPEN_HOURS_HUT))
    return _publish(sessions, clock, force=True)


def test_each_hut_gets_its_own_members_hours_and_anytime_cards(
    two_huts: dict[str, Allowlist],
) -> None:
    demo, second = two_huts[HUT], two_huts[OPEN_HOURS_HUT]
    demo_key, second_key = RING(HUT), RING(OPEN_HOURS_HUT)
    # Li may open the second hut only: told apart at the demo hut, not unknown there.
    assert demo.state_of(LI, key=demo_key) is CardState.ELSEWHERE
    assert second.state_of(LI, key=second_key) is CardState.ACTIVE
    for allowlist, key in ((demo, demo_key), (second, second_key)):
        assert allowlist.admits(ZHANG, key=key) and allowlist.admits(STAFF, key=key)
    # Hours where the hut has them; the staff card opens outside them, nobody else does.
    assert demo.hours is None and demo.anytime is None  # always open: nothing to say
    assert second.hours == HOURS
    assert second.opens_anytime(STAFF, key=second_key)
    assert not second.opens_anytime(ZHANG, key=second_key)
    assert not second.opens_anytime(LI, key=second_key)
    assert second.elsewhere is None
    wire = demo.to_bytes().decode() + second.to_bytes().decode()
    for uid in (ZHANG, LI, STAFF):
        assert uid not in wire


def test_a_change_republishes_only_the_huts_whose_list_it_changes(
    two_huts: dict[str, Allowlist],
    sessions: sessionmaker[Session],
    engine: Engine,
    clock: MovableClock,
) -> None:
    assert _publish(sessions, clock) == {}  # nothing changed: nothing goes out

    def sql(statement: str, **values: object) -> None:
        with engine.begin() as connection:  # behind the server's back: the digest finds it
            connection.execute(text(statement), values)

    # The second hut's hours: its list only.
    later = {"tz": "Asia/Shanghai", "week": {"mon": [["09:00", "20:00"]]}}
    with sessions.begin() as db:
        db.get_one(Hut, OPEN_HOURS_HUT).opening_hours = later
    republished = _publish(sessions, clock)
    assert set(republished) == {OPEN_HOURS_HUT}
    assert republished[OPEN_HOURS_HUT].hours == OpeningHours.model_validate(later)

    # Zhang restricted to the demo hut: the second hut's list changes, not the demo's.
    with sessions() as db:
        zhang = _member_of(db, ZHANG)
    sql("INSERT INTO member_huts (member_id, hut_id) VALUES (:m, :h)", m=zhang, h=HUT)
    republished = _publish(sessions, clock)
    assert set(republished) == {OPEN_HOURS_HUT}
    assert republished[OPEN_HOURS_HUT].state_of(ZHANG, key=RING(OPEN_HOURS_HUT)) is (
        CardState.ELSEWHERE
    )

    # Zhang flagged staff: anytime at the hut with hours; the always-open hut has no need.
    sql("INSERT INTO member_flags (member_id, flag) VALUES (:m, 'staff')", m=zhang)
    assert _publish(sessions, clock) == {}  # elsewhere at the hut with hours: nothing new
    sql("DELETE FROM member_huts WHERE member_id = :m", m=zhang)
    republished = _publish(sessions, clock)
    assert set(republished) == {OPEN_HOURS_HUT}
    assert republished[OPEN_HOURS_HUT].opens_anytime(ZHANG, key=RING(OPEN_HOURS_HUT))

    # A card reported lost concerns every hut.
    sql("UPDATE cards SET state = 'lost' WHERE uid = :uid", uid=ZHANG)
    assert set(_publish(sessions, clock)) == {HUT, OPEN_HOURS_HUT}
    assert _publish(sessions, clock) == {}


def test_hours_typed_wrong_into_the_database_leave_the_hut_always_open_and_say_so(
    two_huts: dict[str, Allowlist],
    sessions: sessionmaker[Session],
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with sessions.begin() as db:
        db.get_one(Hut, OPEN_HOURS_HUT).opening_hours = {"week": {"mon": [["20:00", "08:00"]]}}
    republished = _publish(sessions, clock)
    assert set(republished) == {OPEN_HOURS_HUT}  # the others' lists still go out as they were
    second = republished[OPEN_HOURS_HUT]
    assert second.hours is None and second.anytime is None
    assert second.admits(ZHANG, key=RING(OPEN_HOURS_HUT))
    assert f"hut {OPEN_HOURS_HUT}: stored opening hours are not valid" in caplog.text


def _digests(member_huts: dict[str, frozenset[str]], huts: list[str]) -> dict[str, str]:
    cards = [
        CardOfMember(uid, CardStatus.ACTIVE, MemberStatus.ACTIVE, opens, frozenset())
        for uid, opens in member_huts.items()
    ]
    access = CardAccessList.of(cards)
    return {
        hut: access.for_hut(Hut(id=hut, name=hut, timezone="Asia/Shanghai")).digest(RING(hut))
        for hut in huts
    }


def test_a_huts_digest_follows_exactly_the_cards_elsewhere_there() -> None:
    # Li may open hut a only, then huts a and b: only b's list changes (Li is no longer
    # elsewhere there); at c Li is elsewhere both times, and at a never.
    huts = ["a", "b", "c"]
    before = _digests({ZHANG: frozenset(), LI: frozenset({"a"})}, huts)
    after = _digests({ZHANG: frozenset(), LI: frozenset({"a", "b"})}, huts)
    assert before["a"] == after["a"] and before["c"] == after["c"]
    assert before["b"] != after["b"]
    # Zhang limited to hut c too: elsewhere at a and b now.
    more = _digests({ZHANG: frozenset({"c"}), LI: frozenset({"a", "b"})}, huts)
    assert more["a"] != after["a"] and more["b"] != after["b"] and more["c"] == after["c"]


def test_other_huts_cards_go_as_short_tags_or_as_hashes_for_older_gateways(
    two_huts: dict[str, Allowlist], sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    # By default Li's card is a 4-byte tag at the demo hut, not a 64-digit hash.
    demo = two_huts[HUT]
    assert demo.elsewhere is None and demo.elsewhere_tags is not None
    assert demo.state_of(LI, key=RING(HUT)) is CardState.ELSEWHERE
    # Set to hashes (a fleet with gateways older than the tags): the form is part of the
    # digest, so the lists go out again, and the wire has none of the new field, as an
    # older gateway's model reads it.
    hashed = _publish(sessions, clock, tags=False)
    assert set(hashed) == {HUT, OPEN_HOURS_HUT}
    assert hashed[HUT].elsewhere is not None and hashed[HUT].elsewhere_tags is None
    assert hashed[HUT].state_of(LI, key=RING(HUT)) is CardState.ELSEWHERE
    for allowlist in hashed.values():
        assert "elsewhere_tags" not in allowlist.to_bytes().decode()
    assert _publish(sessions, clock, tags=False) == {}
