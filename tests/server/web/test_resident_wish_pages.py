"""A resident's micro-wishes on their phone (/me/wishes), on SQLite and PostgreSQL: they
propose one (bad fields named beside them), a neighbour supports it (twice is once), the
proposer and supporters rate it once it is handled and nobody else may; nobody reads
another resident's name or rating comment, nor the wishes of a hut they do not use."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import date
from functools import partial

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.domain.record_errors import InvalidFieldsError
from server.domain.wishes import WAITING_PER_RESIDENT, WishChannel, WishOutcome, WishStatus
from server.records import partners, wishes
from server.records.partners import PartnerFields
from server.records.wishes import DeliberationFields, HandlingFields, WishFields
from server.residents import codes
from server.residents.codes import Via
from server.residents.config import ResidentSettings
from server.seed import seed_demo
from server.storage.models import Hut, Member, MemberHut
from server.storage.staff_models import AuditEntry
from server.storage.wish_models import Wish, WishRating, WishSupport
from tests.server.conftest import MovableClock
from tests.support.console import Console
from tests.support.wish_pages import wish_card

STAFF = Actor("staff-test")
OTHER_HUT = "north-hut"


@pytest.fixture
def members(sessions: sessionmaker[Session]) -> dict[str, int]:
    """The demo hut and a second one; 张阿姨 and 李师傅 use the demo hut only, 王老师
    (a new member) every hut."""
    with sessions.begin() as db:
        seed_demo(db)
        db.add(Hut(id=OTHER_HUT, name="北区工具屋"))
        wang = Member(name="王老师", building_unit="7-101")
        db.add(wang)
        db.flush()
        found = {m.name: m.id for m in db.scalars(select(Member))}
        for name in ("张阿姨", "李师傅"):
            db.add(MemberHut(member_id=found[name], hut_id="demo-hut"))
    return {"zhang": found["张阿姨"], "li": found["李师傅"], "wang": found["王老师"]}


@pytest.fixture
def phone(
    browser: Callable[[], Console], sessions: sessionmaker[Session], clock: MovableClock
) -> Callable[[int], Console]:
    """A phone signed in as the member, by a code from the hut."""

    def signed_in(member_id: int) -> Console:
        with sessions.begin() as db:
            issued = codes.issue(
                db, member_id=member_id, via=Via.HUT, now=clock(), settings=ResidentSettings()
            )
        console = browser()
        answer = console.post("/me/sign-in", {"code": issued.code}, page="/me/sign-in")
        assert answer.status_code == 303, answer.text
        console.get("/me/wishes")  # the token of the phone's session
        return console

    return signed_in


def _proposed(location: str) -> int:
    found = re.fullmatch(r"/me/wishes\?done=proposed#wish-(\d+)", location)
    assert found is not None, location
    return int(found.group(1))


def _handle_as_donated(sessions: sessionmaker[Session], wish_id: int, clock: MovableClock) -> int:
    """Staff's part: the meeting deliberates it, a partner donates the drill T0001."""
    with sessions.begin() as db:
        partner = partners.create(db, PartnerFields(name="幸福里物业"), actor=STAFF, now=clock())
        wishes.deliberate(
            db, wish_id, DeliberationFields(meeting_on=date(2026, 11, 30), decision="请物业捐赠"),
            actor=STAFF, now=clock(),
        )  # fmt: skip
        wishes.handle(
            db, wish_id,
            HandlingFields(outcome=WishOutcome.DONATED, partner_id=partner.id, item="T0001"),
            actor=STAFF, now=clock(),
        )  # fmt: skip
        return partner.id


def test_a_resident_proposes_a_neighbour_supports_and_both_rate_it_once_handled(
    phone: Callable[[int], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    zhang = phone(members["zhang"])
    page = zhang.get("/me/wishes")
    assert page.status_code == 200 and "微心愿" in page.text and "还没有" in page.text

    blank = zhang.post("/me/wishes", {"title": " ", "detail": "装空调", "hut": "demo-hut"})
    assert blank.status_code == 422 and 'id="e-title"' in blank.text
    assert "装空调" in blank.text  # what was typed is kept
    elsewhere = zhang.post("/me/wishes", {"title": "电锤", "hut": OTHER_HUT})
    assert elsewhere.status_code == 422 and 'id="e-hut"' in elsewhere.text
    made = zhang.post(
        "/me/wishes", {"title": "希望有一台电锤", "detail": "装空调打孔", "hut": "demo-hut"}
    )
    assert made.status_code == 303
    wish_id = _proposed(made.headers["location"])
    mine = wish_card(zhang.get(made.headers["location"]).text, wish_id)
    assert "我的" in mine and "由您提议" in mine and "提议" in mine
    assert "我也想要" not in mine  # the proposer counts already
    with sessions() as db:
        wish = db.get(Wish, wish_id)
        assert wish is not None and wish.channel is WishChannel.PHONE
        assert wish.proposed_by_id == members["zhang"] and wish.hut_id == "demo-hut"
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "wish.create"))
        assert entry is not None and entry.actor == f"member:{members['zhang']}"

    li = phone(members["li"])
    theirs = wish_card(li.get("/me/wishes").text, wish_id)
    assert "一位邻居提议" in theirs and "张阿姨" not in theirs and "3-201" not in theirs
    assert "支持人数：0" in theirs
    early = li.post(f"/me/wishes/{wish_id}/rating", {"score": "5"})
    assert early.status_code == 403  # not a supporter yet
    supported = li.post(f"/me/wishes/{wish_id}/support", {})
    assert supported.status_code == 303
    again = li.post(f"/me/wishes/{wish_id}/support", {})
    assert again.status_code == 303 and "supported_already" in again.headers["location"]
    after = li.get(again.headers["location"]).text
    assert "您已经支持" in after and "支持人数：1" in wish_card(after, wish_id)
    not_yet = li.post(f"/me/wishes/{wish_id}/rating", {"score": "5"})
    assert not_yet.status_code == 409 and "办理后" in not_yet.text
    with sessions() as db:
        assert len(list(db.scalars(select(WishSupport)))) == 1

    _handle_as_donated(sessions, wish_id, clock)
    handled = wish_card(zhang.get("/me/wishes").text, wish_id)
    assert "已办" in handled and "幸福里物业" in handled and "2026-11-30" in handled
    assert "请物业捐赠" in handled and "这次办得怎么样" in handled

    no_score = zhang.post(f"/me/wishes/{wish_id}/rating", {"comment": "还行"})
    assert no_score.status_code == 422 and f'id="e-score-{wish_id}"' in no_score.text
    assert "还行" in no_score.text
    assert zhang.post(f"/me/wishes/{wish_id}/rating", {"score": "9"}).status_code == 422
    rated = zhang.post(f"/me/wishes/{wish_id}/rating", {"score": "3", "comment": "有点旧"})
    assert rated.status_code == 303
    changed = zhang.post(f"/me/wishes/{wish_id}/rating", {"score": "5", "comment": "很好用"})
    assert changed.status_code == 303  # a second rating replaces hers
    li_rated = li.post(f"/me/wishes/{wish_id}/rating", {"score": "1", "comment": "李的意见"})
    assert li_rated.status_code == 303
    with sessions() as db:
        wish = db.get(Wish, wish_id)
        assert wish is not None and wish.status is WishStatus.EVALUATED
        scores = {r.member_id: (r.score, r.comment) for r in db.scalars(select(WishRating))}
        assert scores == {members["zhang"]: (5, "很好用"), members["li"]: (1, "李的意见")}
    hers = zhang.get("/me/wishes").text
    card = wish_card(hers, wish_id)
    assert "最近评价" in hers and "已评" in card and "很好用" in card
    assert "李的意见" not in hers and "李师傅" not in hers  # another resident's comment, name
    assert "李的意见" in li.get("/me/wishes").text  # his own


def test_others_may_not_rate_and_steps_out_of_turn_are_refused(
    phone: Callable[[int], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    with sessions.begin() as db:
        wish = wishes.create(
            db, WishFields(title="想要一个梯子", hut="demo-hut", proposed_by=members["zhang"]),
            actor=STAFF, now=clock(),
        )  # fmt: skip
        wish_id = wish.id
    _handle_as_donated(sessions, wish_id, clock)
    wang = phone(members["wang"])
    card = wish_card(wang.get("/me/wishes").text, wish_id)
    assert "我也想要" not in card and "保存我的评价" not in card  # handled: no support now
    refused = wang.post(f"/me/wishes/{wish_id}/rating", {"score": "5"})
    assert refused.status_code == 403 and "提议人和支持的邻居" in refused.text
    late = wang.post(f"/me/wishes/{wish_id}/support", {})
    assert late.status_code == 409 and "办理之前" in late.text
    zhang = phone(members["zhang"])
    own = zhang.post(f"/me/wishes/{wish_id}/support", {})
    assert own.status_code == 409 and "您自己的心愿" in own.text
    with sessions() as db:
        assert list(db.scalars(select(WishRating))) == []
        assert list(db.scalars(select(WishSupport))) == []


def test_a_resident_sees_only_the_wishes_of_their_huts(
    phone: Callable[[int], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    with sessions.begin() as db:
        made = {
            hut: wishes.create(
                db, WishFields(title=f"心愿-{hut}", hut=hut), actor=STAFF, now=clock()
            ).id
            for hut in ("demo-hut", OTHER_HUT, None)
        }
    li = phone(members["li"])
    page = li.get("/me/wishes").text
    assert "心愿-demo-hut" in page and "心愿-None" in page and "整个片区" in page
    assert "心愿-north-hut" not in page and "北区工具屋" not in page  # not his hut
    hidden = li.post(f"/me/wishes/{made[OTHER_HUT]}/support", {})
    assert hidden.status_code == 404 and "没有这个心愿" in hidden.text
    for ref in ("424242", "abc", "99999999999999999999"):
        assert li.post(f"/me/wishes/{ref}/support", {}).status_code == 404
    wang = phone(members["wang"])  # no huts named: every hut
    assert "心愿-north-hut" in wang.get("/me/wishes").text
    with sessions() as db:
        assert list(db.scalars(select(WishSupport))) == []


def test_the_wish_pages_need_a_signed_in_phone_and_the_form_token(
    browser: Callable[[], Console], phone: Callable[[int], Console], members: dict[str, int]
) -> None:
    stranger = browser()
    answer = stranger.get("/me/wishes", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/me/sign-in?next=/me/wishes"
    zhang = phone(members["zhang"])
    forged = zhang.client.post("/me/wishes", data={"title": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    assert "微心愿" in zhang.get("/me").text  # the link from the resident's page


def test_fields_past_their_bounds_are_named_beside_them_and_english_reads_english(
    phone: Callable[[int], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    zhang = phone(members["zhang"])
    long_title = zhang.post("/me/wishes", {"title": "长" * 201, "hut": "demo-hut"})
    assert long_title.status_code == 422 and 'id="e-title"' in long_title.text
    long_detail = zhang.post("/me/wishes", {"title": "梯子", "detail": "长" * 2001})
    assert long_detail.status_code == 422 and 'id="e-detail"' in long_detail.text
    with sessions() as db:
        assert list(db.scalars(select(Wish))) == []
    made = zhang.post("/me/wishes", {"title": "梯子", "hut": ""})  # for the whole district
    wish_id = _proposed(made.headers["location"])
    _handle_as_donated(sessions, wish_id, clock)
    zhang.get("/me/wishes")
    for score in ("abc", "0", "2.5"):
        bad = zhang.post(f"/me/wishes/{wish_id}/rating", {"score": score})
        assert bad.status_code == 422 and f'id="e-score-{wish_id}"' in bad.text, score
    li = phone(members["li"])
    english = li.get("/me/wishes?lang=en").text
    assert "Micro-wishes" in english and "proposed by a neighbour" in english
    assert "Donated by 幸福里物业." in english and "For the whole district" in english
    with sessions() as db:
        wish = db.get(Wish, wish_id)
        assert wish is not None and wish.hut_id is None and wish.status is WishStatus.HANDLED


def test_a_phone_may_have_a_few_wishes_waiting_for_the_meeting_at_once(
    phone: Callable[[int], Console],
    members: dict[str, int],
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    zhang = phone(members["zhang"])
    made = [
        _proposed(zhang.post("/me/wishes", {"title": f"心愿{n}"}).headers["location"])
        for n in range(WAITING_PER_RESIDENT)
    ]
    refused = zhang.post("/me/wishes", {"title": "再来一个"})
    assert refused.status_code == 422 and "等议事会商议" in refused.text
    assert "再来一个" in refused.text  # kept for later
    with sessions.begin() as db:  # the meeting deliberates one: a place is free again
        fields = DeliberationFields(meeting_on=date(2026, 11, 30), decision="购买")
        wishes.deliberate(db, made[0], fields, actor=STAFF, now=clock())
        staff_entered = WishFields(title="纸条上的心愿", proposed_by=members["zhang"])
        wishes.create(db, staff_entered, actor=STAFF, now=clock())  # staff: no limit
    assert zhang.post("/me/wishes", {"title": "再来一个"}).status_code == 303


@pytest.mark.postgres
def test_two_proposals_at_once_cannot_pass_the_limit_together(
    members: dict[str, int], sessions: sessionmaker[Session], clock: MovableClock
) -> None:
    """The last free place taken by one proposal while another of the same member is on its
    way: the second waits for the first's commit and is refused, not counted before it."""
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    phone_wish = partial(WishFields, proposed_by=members["zhang"], channel=WishChannel.PHONE)
    with sessions.begin() as db:
        for n in range(WAITING_PER_RESIDENT - 1):
            wishes.create(db, phone_wish(title=f"心愿{n}"), actor=STAFF, now=clock())
    outcome: list[object] = []

    def second() -> None:
        try:
            with sessions.begin() as db:
                wishes.create(db, phone_wish(title="同时的心愿"), actor=STAFF, now=clock())
            outcome.append("created")
        except InvalidFieldsError as refused:
            outcome.append(refused)

    with sessions.begin() as first:
        wishes.create(first, phone_wish(title="最后一个位置"), actor=STAFF, now=clock())
        racer = threading.Thread(target=second)
        racer.start()
        while not outcome and not _waiting_on_a_lock(sessions):  # evidence, not a pause
            racer.join(0.01)
        assert not outcome, "the second proposal did not wait for the first"
    racer.join()
    assert isinstance(outcome[0], InvalidFieldsError)
    with sessions() as db:
        count = select(func.count()).where(Wish.proposed_by_id == members["zhang"])
        assert db.scalar(count) == WAITING_PER_RESIDENT


def _waiting_on_a_lock(sessions: sessionmaker[Session]) -> bool:
    """A session of this database waits for a lock (asked in a transaction of its own:
    pg_stat_activity stays as it was for the rest of a transaction that read it)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with sessions() as db:
        return bool(db.scalar(waiting))
