"""A known November 2026 at two huts, built from hut events through the ledger (the loans)
and rows as the other parts write them (reminders, wishes, partners, alarms, anomalies).
The figures it must give are worked out by hand in EXPECTED, beside the stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain import MemberFlag
from server.domain.wishes import WishChannel, WishOutcome, WishStatus
from server.ledger import apply_event
from server.seed import seed_demo
from server.storage.models import Anomaly, Card, Hut, Item, MemberFlagRow
from server.storage.operations_models import Alarm
from server.storage.reminder_models import ReminderDelivery, ReminderMessage
from server.storage.wish_models import Partner, Wish
from tests.server.factories import scan

ZHANG = "04A1B2C3"
LI = "04D5E6F7"  # flagged senior (60+)
OTHER_HUT = "north-hut"
NOVEMBER = "2026-11"
# The month's end at Shanghai midnight, and a time after it to build the report at.
END = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
AFTER = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def utc(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# (hut, tag, card, borrowed at, returned at or None). Loan periods: power and hand tools 3
# days, ladders 1, fitness and first aid 7, household 3; a senior's two days longer.
LOANS = (
    ("demo-hut", "T0004", LI, utc(10, 30), None),  # October's, due Nov 8, never back
    ("demo-hut", "T0007", ZHANG, utc(10, 31, 20), utc(11, 3, 10)),  # Nov 1 04:00 in Shanghai
    ("demo-hut", "T0001", ZHANG, utc(11, 2), utc(11, 4)),
    ("demo-hut", "T0003", LI, utc(11, 9), utc(11, 14)),  # due Nov 12: 2 days late
    ("demo-hut", "T0001", ZHANG, utc(11, 9, 3), utc(11, 13, 15)),  # 1.5 days late
    (OTHER_HUT, "T0100", ZHANG, utc(11, 20), utc(11, 21)),
    ("demo-hut", "T0005", LI, utc(11, 30, 15, 30), None),  # Nov 30 23:30 in Shanghai
    ("demo-hut", "T0002", ZHANG, utc(11, 30, 16, 30), None),  # Dec 1 00:30: December's
)

EXPECTED_HUT = {
    "loans": 5,
    "weeks": [
        ("2026-11-01", 1),
        ("2026-11-02", 1),
        ("2026-11-09", 2),
        ("2026-11-16", 0),
        ("2026-11-23", 0),
        ("2026-11-30", 1),
    ],
    "categories": [("power_tools", 2), ("fitness", 1), ("hand_tools", 1), ("ladders", 1)],
    "top": [("T0001", 2), ("T0003", 1), ("T0005", 1), ("T0007", 1)],
    # T0002 was first borrowed in December: never, as November ends.
    "never": ["T0002", "T0006", "T0008", "T0009", "T0010"],
    # Due in November: T0007, T0001 twice, T0003 and October's T0004 (22 days 14 h late at
    # the month's end): 3 late of 5, (2 + 1.5 + 22.5833) / 3 days on average.
    "due": 5,
    "late": 3,
    "average_days_late": 8.69,
    "reminders": [("wecom", 2), ("sms", 1)],
    "wishes": (2, 2, 2, 1, 1),
    "partners": [("幸福里物业", 1, 1)],
    "seniors": 1,
    "alarms": [("hut_offline", 2), ("forced_open", 1)],
    "anomalies": [("return_not_on_loan", 2)],
    # Offline 2 h (from October), 12 h, and 6 h still open at the month's end: 20 of 720 h.
    "offline_hours": 20.0,
    "share_online": 0.9722,
}


def build(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
        seed_demo(db, hut_id=OTHER_HUT)
        db.add(
            Item(
                tag="T0100",
                name_zh="折叠推车",
                name_en="Folding trolley",
                category="household",
                hut_id=OTHER_HUT,
            )
        )
        li = db.scalars(select(Card.member_id).where(Card.uid == LI)).one()
        db.add(MemberFlagRow(member_id=li, flag=MemberFlag.SENIOR.value))
    seq = {"demo-hut": 0, OTHER_HUT: 0}
    for hut_id, tag, card, borrowed, returned in LOANS:
        for text, at in ((tag, borrowed), (tag, returned)):
            if at is None:
                continue
            seq[hut_id] += 1
            with sessions.begin() as db:
                hut = db.get(Hut, hut_id)
                assert hut is not None
                event = scan(hut_id, seq[hut_id], text, card=card, ts=at)
                ack = apply_event(db, event, hut=hut, received_at=at + timedelta(seconds=1))
                assert ack.outcome.value == "applied", (tag, at, ack)
    with sessions.begin() as db:
        _reminders(db)
        _wishes(db)
        _alarms(db)


def _reminders(db: Session) -> None:
    sends = (
        ("member", "demo-hut", "wecom", "sent", utc(11, 3)),
        ("member", "demo-hut", "wecom", "sent", utc(11, 11)),
        ("member", "demo-hut", "sms", "sent", utc(11, 11)),
        ("member", "demo-hut", "sms", "pending", None),
        ("member", "demo-hut", "sms", "sent", utc(12, 1, 8)),  # December's
        ("staff", "demo-hut", "wecom", "sent", utc(11, 11)),  # not a reminder to a resident
        ("member", OTHER_HUT, "email", "sent", utc(11, 22)),  # the other hut's
    )
    for audience, hut, channel, state, sent_at in sends:
        message = ReminderMessage(
            stage="overdue",
            template="overdue",
            audience=audience,
            hut_id=hut,
            created_at=utc(11, 1),
        )
        db.add(message)
        db.flush()
        db.add(
            ReminderDelivery(
                message_id=message.id,
                channel=channel,
                locale="zh",
                status=state,
                next_attempt_at=utc(11, 1),
                sent_at=sent_at,
            )
        )


def _wishes(db: Session) -> None:
    partner = Partner(name="幸福里物业", created_at=utc(9, 1))
    idle = Partner(name="街道体育协会", created_at=utc(9, 1))
    db.add_all([partner, idle])
    db.flush()
    donated = db.scalars(select(Item).where(Item.tag == "T0009")).one()
    donated.partner_id = partner.id
    base = {"hut_id": "demo-hut", "channel": WishChannel.PAPER}
    db.add_all(
        [
            Wish(
                title="高枝剪",
                proposed_at=utc(10, 20),
                deliberated_at=utc(11, 5),
                handled_at=utc(11, 20),
                evaluated_at=utc(11, 25),
                outcome=WishOutcome.DONATED,
                partner_id=partner.id,
                status=WishStatus.EVALUATED,
                **base,
            ),
            Wish(title="电焊机", proposed_at=utc(11, 3), **base),
            Wish(
                title="冲击钻头",
                proposed_at=utc(11, 10),
                deliberated_at=utc(11, 12),
                handled_at=utc(11, 15),
                outcome=WishOutcome.DECLINED,
                status=WishStatus.HANDLED,
                **base,
            ),
            Wish(
                title="轮椅", proposed_at=utc(11, 12), hut_id=OTHER_HUT, channel=WishChannel.HOTLINE
            ),
        ]
    )


def _alarms(db: Session) -> None:
    incidents = (
        ("hut_offline", utc(10, 31, 12), utc(10, 31, 18), utc(11, 1)),
        ("hut_offline", utc(11, 10, 0), utc(11, 10, 12), utc(11, 11)),
        ("hut_offline", utc(11, 30, 10), None, None),  # still offline as November ends
        ("forced_open", utc(11, 15), utc(11, 15, 3), None),
    )
    for kind, raised, cleared, resolved in incidents:
        db.add(
            Alarm(
                hut_id="demo-hut",
                kind=kind,
                source="server",
                raised_at=raised,
                active=cleared is None,
                cleared_at=cleared,
                resolved_at=resolved,
                updated_at=raised,
            )
        )
    for at in (utc(10, 29), utc(11, 4), utc(11, 18)):
        db.add(Anomaly(hut_id="demo-hut", kind="return_not_on_loan", created_at=at))
