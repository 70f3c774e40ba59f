"""The ledger end to end on SQLite and PostgreSQL: gateway events in (as apply_event gets
them from the ingest worker), rows out. Sessions, condition cards, reservations with
holds, stocktakes, consumables, anomalies, renew and lost, and the 0001 -> 0002 upgrade."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from server import staff_actions
from server.domain import ItemCondition, ItemStatus, expiring, restock_needed
from server.ledger import AnyEvent, apply_event
from server.seed import seed_demo
from server.storage import consumables, door_sessions, make_engine, queries, reservations
from server.storage.models import (
    Anomaly,
    DoorSession,
    Hut,
    Item,
    Loan,
    NotificationRequest,
    Reservation,
)
from toolhut.contract import DoorState, EventAck, Outcome

from .conftest import T0
from .factories import card, door, scan

HUT = "demo-hut"
ZHANG, LI, STAFF = "04A1B2C3", "04D5E6F7", "04ABCDEF"


class Hut1:
    """A gateway's view: numbered events with a clock, one session at a time."""

    def __init__(self, sessions: sessionmaker[Session], hut: str = HUT) -> None:
        self.sessions = sessions
        self.hut = hut
        self.seq = 0
        self.now = T0
        self.session: str | None = None

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def apply(self, event: AnyEvent) -> EventAck:
        with self.sessions.begin() as session:
            hut = session.get(Hut, event.hut)
            assert hut is not None
            return apply_event(session, event, hut=hut, received_at=self.now)

    def visit(self, uid: str | None) -> None:
        """Tap a card (or none) and open the door."""
        self.session = f"s-{self.seq + 1:06d}-{self.hut}"
        if uid is not None:
            self.apply(card(self.hut, self._next(), uid, ts=self.now, session=self.session))
        self.apply(door(self.hut, self._next(), ts=self.now, session=self.session))
        self._card = uid

    def scan(self, text: str) -> EventAck:
        return self.apply(
            scan(self.hut, self._next(), text, self._card, ts=self.now, session=self.session)
        )

    def close(self) -> None:
        self.apply(
            door(self.hut, self._next(), ts=self.now, state=DoorState.CLOSED, session=self.session)
        )
        self.session = None

    def text(self, ack: EventAck) -> str:
        assert ack.feedback is not None
        return ack.feedback.text


@pytest.fixture
def hut(sessions: sessionmaker[Session]) -> Hut1:
    with sessions.begin() as session:
        seed_demo(session)
    return Hut1(sessions)


def _item(sessions: sessionmaker[Session], tag: str) -> Item:
    with sessions() as session:
        shelf = queries.find_item(session, tag)
        assert shelf is not None
        return shelf.item


def test_door_opened_and_nothing_scanned_is_flagged(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    hut.visit(ZHANG)
    hut.close()
    hut.visit(LI)
    hut.scan("T0005")
    hut.close()
    with sessions() as session:
        flagged = door_sessions.list_sessions(session, flag="unscanned")
        assert [(d.member.name if d.member else None, d.scans) for d in flagged] == [("张阿姨", 0)]
        assert flagged[0].door_opened_at == T0 and flagged[0].closed_at == T0
        anomaly = session.scalars(select(Anomaly)).one()
        assert anomaly.kind == "possible_unscanned_removal"
        assert anomaly.door_session_id == flagged[0].id
        assert len(door_sessions.list_sessions(session)) == 2


def test_return_with_repair_card_blocks_lending_until_staff_clear(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    hut.now += timedelta(days=1)
    hut.visit(ZHANG)
    assert hut.text(hut.scan("T0001")) == "已归还 电钻"
    assert hut.text(hut.scan("COND:REPAIR")) == "已记录 需维修 谢谢"
    hut.close()
    item = _item(sessions, "T0001")
    assert item.status is ItemStatus.MAINTENANCE and item.condition is ItemCondition.NEEDS_REPAIR
    with sessions() as session:
        loan = session.scalars(select(Loan)).one()
        assert loan.return_condition == "needs_repair"

    hut.visit(LI)
    refused = hut.scan("T0001")
    assert refused.outcome is Outcome.REJECTED and hut.text(refused) == "电钻 维修中 暂不可借"
    hut.close()
    with sessions.begin() as session:
        staff_actions.clear_maintenance(session, tag="T0001", now=hut.now)
    assert _item(sessions, "T0001").status is ItemStatus.AVAILABLE
    hut.visit(LI)
    assert hut.scan("T0001").outcome is Outcome.APPLIED


def test_condition_card_before_the_item_applies_to_the_next_return(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    hut.visit(ZHANG)
    hut.scan("T0007")
    hut.close()
    hut.visit(ZHANG)
    assert hut.text(hut.scan("COND:MISSING")) == "请扫描归还的物品"
    hut.scan("T0007")
    hut.close()
    item = _item(sessions, "T0007")
    # A missing part is for staff to look at; the set still goes out.
    assert item.status is ItemStatus.AVAILABLE and item.condition is ItemCondition.MISSING_PART
    with sessions() as session:
        assert [a.kind for a in session.scalars(select(Anomaly))] == ["missing_part"]


def test_condition_card_without_a_session_is_refused(hut: Hut1) -> None:
    ack = hut.apply(scan(HUT, 1, "COND:OK", card=None))
    assert ack.outcome is Outcome.REJECTED and hut.text(ack) == "请先刷卡"


def test_reservation_hold_goes_to_the_next_in_line_and_expires(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.close()
    with sessions.begin() as session:
        with pytest.raises(staff_actions.RefusedError) as own:
            staff_actions.reserve(session, tag="T0001", card=ZHANG, now=hut.now)
        assert own.value.reason.value == "own_loan"
        staff_actions.reserve(session, tag="T0001", card=LI, now=hut.now)
        with pytest.raises(staff_actions.RefusedError):
            staff_actions.reserve(session, tag="T0001", card=LI, now=hut.now)
        staff_actions.reserve(session, tag="t0001", card=STAFF, now=hut.now)

    hut.now += timedelta(days=2)
    hut.visit(ZHANG)
    hut.scan("T0001")  # back: held for 李师傅 for 24 hours
    assert hut.text(hut.scan("T0001")) == "电钻 已为他人预留"
    hut.close()
    assert _item(sessions, "T0001").status is ItemStatus.RESERVED
    with sessions() as session:
        note = session.scalars(select(NotificationRequest)).one()
        assert note.kind == "reservation_ready" and note.member_id is not None
        assert note.sent_at is None and "电钻" in note.text
        assert len(reservations.pending_notifications(session)) == 1

    hut.now += timedelta(hours=25)  # 李师傅 never came: the hold passes on to staff
    with sessions.begin() as session:
        assert staff_actions.expire_holds(session, now=hut.now) == 1
    with sessions() as session:
        states = [r.state for r in session.scalars(select(Reservation).order_by(Reservation.id))]
        assert states == ["expired", "held"]
    hut.visit(LI)
    assert hut.text(hut.scan("T0001")) == "电钻 已为他人预留"
    hut.close()
    hut.visit(STAFF)  # a staff card opens a stocktake: counted, not lent
    assert hut.scan("T0001").outcome is Outcome.APPLIED
    hut.close()
    assert _item(sessions, "T0001").status is ItemStatus.RESERVED


def test_holder_borrows_within_the_hold(hut: Hut1, sessions: sessionmaker[Session]) -> None:
    hut.visit(ZHANG)
    hut.scan("T0003")
    hut.close()
    with sessions.begin() as session:
        staff_actions.reserve(session, tag="T0003", card=LI, now=hut.now)
    hut.visit(ZHANG)
    hut.scan("T0003")
    hut.close()
    hut.now += timedelta(hours=3)  # ladder holds last 4 hours
    hut.visit(LI)
    ack = hut.scan("T0003")
    assert ack.outcome is Outcome.APPLIED and hut.text(ack).startswith("已借出 梯子")
    with sessions() as session:
        assert session.scalars(select(Reservation)).one().state == "fulfilled"


def test_over_the_limit_and_return_at_another_hut(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.add(Hut(id="hut-2", name="第二工具屋", address="5号楼"))
    hut.visit(ZHANG)
    hut.scan("T0001")
    hut.scan("T0002")
    refused = hut.scan("T0010")  # a third power tool
    assert refused.outcome is Outcome.REJECTED and hut.text(refused) == "已达借用上限 请先归还"
    hut.close()
    other = Hut1(sessions, "hut-2")
    other.visit(ZHANG)
    other.scan("T0001")
    other.close()
    drill = _item(sessions, "T0001")
    assert drill.hut_id == "hut-2" and drill.status is ItemStatus.AVAILABLE


def test_return_of_an_item_not_on_loan_is_an_anomaly(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    ack = hut.apply(scan(HUT, 1, "T0009", card=None))
    assert ack.outcome is Outcome.APPLIED and hut.text(ack) == "已收到 扳手套装"
    with sessions.begin() as session:
        anomaly = session.scalars(select(Anomaly)).one()
        assert anomaly.kind == "return_not_on_loan" and anomaly.resolved_at is None
        assert door_sessions.open_anomalies(session, hut_id=HUT) == [anomaly]


def test_stocktake_report_on_door_close(hut: Hut1, sessions: sessionmaker[Session]) -> None:
    hut.visit(ZHANG)
    hut.scan("T0001")  # on loan: not expected on the shelf
    hut.close()
    hut.visit(STAFF)
    for tag in ("T0002", "T0003", "T0003", "T0001", "X9999"):
        ack = hut.scan(tag)
        assert ack.outcome is Outcome.APPLIED
    assert hut.text(ack) == "盘点 X9999 共4件"
    hut.close()
    with sessions() as session:
        staff_session = session.scalars(
            select(DoorSession).where(DoorSession.mode == "stocktake")
        ).one()
        assert staff_session.flag is None
        stocktake = door_sessions.stocktake_of(session, staff_session.id)
        assert stocktake is not None and stocktake.closed_at == T0
        lines = {(line.tag, line.result, line.count) for line in stocktake.lines}
    assert ("T0003", "seen", 2) in lines and ("T0002", "seen", 1) in lines
    assert ("T0001", "unexpected", 1) in lines and ("X9999", "unexpected", 1) in lines
    missing = sorted(tag for tag, result, _ in lines if result == "missing")
    assert missing == ["T0004", "T0005", "T0006", "T0007", "T0008", "T0009", "T0010"]
    assert _item(sessions, "T0002").status is ItemStatus.AVAILABLE  # nothing was lent


def test_consumables_are_taken_first_expiring_first(
    hut: Hut1, sessions: sessionmaker[Session]
) -> None:
    hut.visit(ZHANG)
    assert hut.text(hut.scan("C0001")) == "已领取 创可贴 剩34"
    for _ in range(4):
        hut.scan("C0003")
    assert hut.text(hut.scan("C0003")) == "医用纱布 已用完"
    hut.close()
    with sessions() as session:
        supply = consumables.find(session, "C0001")
        assert supply is not None
        assert [(b.quantity, b.expires_on) for b in supply.batches] == [
            (30, date(2027, 6, 30)),
            (4, date(2026, 12, 15)),
        ]
        low = restock_needed(consumables.stock(session, hut_id=HUT))
        soon = expiring(consumables.batches(session), T0)
    assert [s.tag for s in low] == ["C0003"]
    assert [(b.tag, b.expires_on) for b in soon] == [("C0001", date(2026, 12, 15))]


def test_renew_and_lost(hut: Hut1, sessions: sessionmaker[Session]) -> None:
    hut.visit(ZHANG)
    hut.scan("T0005")
    hut.scan("T0001")
    hut.close()
    with sessions.begin() as session:
        dumbbells, drill = session.scalars(select(Loan).order_by(Loan.id)).all()
        renewed = staff_actions.renew(session, loan_id=dumbbells.id, now=T0)
        assert renewed.due_at == T0 + timedelta(days=14) and renewed.renewals == 1
        staff_actions.renew(session, loan_id=dumbbells.id, now=T0)
        with pytest.raises(staff_actions.RefusedError) as third:
            staff_actions.renew(session, loan_id=dumbbells.id, now=T0)
        assert third.value.text == "续借次数已满"
        staff_actions.mark_lost(session, loan_id=drill.id, now=T0)
        with pytest.raises(staff_actions.NotFoundError):
            staff_actions.renew(session, loan_id=9999, now=T0)
    assert _item(sessions, "T0001").status is ItemStatus.LOST
    with sessions() as session:
        assert [loan.item.tag for loan in session.scalars(queries.open_loans()).all()] == ["T0005"]
    # Found again later: back on the shelf, and staff hear of it.
    hut.visit(LI)
    assert hut.text(hut.scan("T0001")) == "已收到 电钻"
    hut.close()
    assert _item(sessions, "T0001").status is ItemStatus.AVAILABLE


def test_upgrade_from_0001_with_data(db_url: str) -> None:
    """A 0001 ledger with a loan open upgrades in place; an unknown category is kept."""
    from alembic import command

    from server.storage.migrate import alembic_config

    engine = make_engine(db_url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            connection.execute(text("INSERT INTO huts VALUES ('h1', '旧屋', 'Asia/Shanghai', 3)"))
            connection.execute(
                text(
                    "INSERT INTO items (tag, name_zh, name_en, category, hut_id, status) VALUES "
                    "('T1', '电钻', 'Drill', 'power_tools', 'h1', 'on_loan'), "
                    "('T2', '帐篷', 'Tent', 'camping', 'h1', 'available')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO members (name, building_unit, status) VALUES ('m', '1', 'active')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO loans (item_id, member_id, hut_id, borrowed_at, due_at) "
                    "VALUES (1, 1, 'h1', :at, :due)"
                ),
                {"at": datetime(2026, 1, 1), "due": datetime(2026, 1, 4)},
            )
        from server.storage import migrate

        migrate(db_url)
        checks = {c["name"] for c in inspect(engine).get_check_constraints("items")}
        assert {"ck_items_status", "ck_items_condition"} <= checks
        with Session(engine) as session:
            items = {i.tag: i for i in session.scalars(select(Item))}
            assert items["T2"].category == "camping" and items["T1"].condition is ItemCondition.OK
            loan = session.scalars(select(Loan)).one()
            assert loan.renewals == 0 and loan.lost_at is None
            assert [row.item.tag for row in session.scalars(queries.open_loans()).all()] == ["T1"]
            items["T2"].status = ItemStatus.RESERVED  # the widened check constraint
            session.commit()
            # The partial unique index: no second open loan for T1.
            session.add(
                Loan(item_id=loan.item_id, member_id=1, hut_id="h1", borrowed_at=T0, due_at=T0)
            )
            with pytest.raises(Exception, match="(?i)unique"):
                session.commit()
    finally:
        engine.dispose()


def test_events_without_session_ids_still_lend(hut: Hut1, sessions: sessionmaker[Session]) -> None:
    """Older gateways send no session id: lending works, nothing is recorded per session."""
    assert hut.apply(scan(HUT, 1, "T0006")).outcome is Outcome.APPLIED
    assert hut.apply(door(HUT, 2, state=DoorState.CLOSED)).outcome is Outcome.APPLIED
    with sessions() as session:
        assert session.scalars(select(DoorSession)).all() == []
        assert len(session.scalars(queries.open_loans()).all()) == 1
