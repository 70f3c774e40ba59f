"""A resident's phone in the page tests: the demo hut's scans at the test's clock, and a
phone signed in by a code from the hut (the ``hut`` fixture: tests/server/web/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.ledger import apply_event
from server.residents import codes
from server.residents.codes import Via
from server.residents.config import ResidentSettings
from server.storage.models import Card, Item, Loan
from server.storage.models import Hut as HutRow
from tests.server.conftest import MovableClock
from tests.server.factories import scan
from tests.support.console import Console

ZHANG, LI, STAFF = "04A1B2C3", "04D5E6F7", "04ABCDEF"  # the demo's cards


class DemoHut:
    """The demo hut's scans, in sequence, at the clock's time."""

    def __init__(self, sessions: sessionmaker[Session], clock: MovableClock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.seq = 0

    def scan(self, tag: str, card: str) -> None:
        self.seq += 1
        with self.sessions.begin() as db:
            row = db.get(HutRow, "demo-hut")
            event = scan("demo-hut", self.seq, tag, card=card, ts=self.clock())
            apply_event(db, event, hut=row, received_at=self.clock())


def member_of(sessions: sessionmaker[Session], card: str) -> int:
    with sessions() as db:
        return db.scalars(select(Card.member_id).where(Card.uid == card)).one()


def signed_in_phone(
    browser: Callable[[], Console],
    sessions: sessionmaker[Session],
    clock: MovableClock,
    card: str,
    next: str = "/me",
) -> Console:
    phone = browser()
    response = sign_in_phone(phone, sessions, clock, card, next)
    assert response.status_code == 303 and response.headers["location"] == next
    return phone


def sign_in_phone(
    phone: Console, sessions: sessionmaker[Session], clock: MovableClock, card: str, next: str
) -> object:
    with sessions.begin() as db:
        issued = codes.issue(
            db,
            member_id=member_of(sessions, card),
            via=Via.HUT,
            now=clock(),
            settings=ResidentSettings(),
        )
    page = f"/me/sign-in?next={next}"
    return phone.post("/me/sign-in", {"code": issued.code, "next": next}, page=page)


def open_loan_id(sessions: sessionmaker[Session], tag: str) -> int:
    with sessions() as db:
        return db.scalars(
            select(Loan.id)
            .join(Item, Loan.item_id == Item.id)
            .where(Item.tag == tag, Loan.returned_at.is_(None))
        ).one()
