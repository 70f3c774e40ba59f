"""The phone sign-in card through the ledger, on SQLite and PostgreSQL: after a card tap
the ack's feedback carries the code, only its hash is stored, it signs that member in once;
a resent event issues no second code; no log line shows the code."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.labels import SIGN_IN_CARD
from server.ledger import apply_batch, apply_event
from server.residents import codes
from server.residents.config import ResidentSettings
from server.seed import seed_demo
from server.storage.models import Card, Hut
from server.storage.resident_codes import SignInCodes
from server.storage.resident_models import ResidentCode
from tests.server.conftest import T0
from tests.server.factories import card, door, scan
from toolhut.contract import Beep, Outcome

HUT = "demo-hut"
CODE = "48291735"
KNOWN = SignInCodes(minutes=10, draw=lambda: CODE)


@pytest.fixture
def zhang(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as db:
        seed_demo(db, hut_id=HUT)
        return db.scalars(select(Card.member_id).where(Card.uid == "04A1B2C3")).one()


def _hut(db: Session) -> Hut:
    hut = db.get(Hut, HUT)
    assert hut is not None
    return hut


def test_the_sign_in_card_after_a_tap_shows_a_code_that_signs_the_member_in_once(
    sessions: sessionmaker[Session], zhang: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in = scan(HUT, 3, SIGN_IN_CARD, session="s1")
    with sessions.begin() as db:
        for event in (card(HUT, 1, session="s1"), door(HUT, 2, session="s1")):
            apply_event(db, event, hut=_hut(db), received_at=T0)
        ack = apply_event(db, sign_in, hut=_hut(db), received_at=T0, sign_in=KNOWN)
    assert ack.outcome is Outcome.APPLIED
    assert ack.feedback is not None and ack.feedback.beep is Beep.OK
    assert ack.feedback.text == "手机登录码 4829 1735 (10分钟)"

    with sessions.begin() as db:
        (row,) = db.scalars(select(ResidentCode))
        assert (row.member_id, row.via, row.hut_id) == (zhang, "hut", HUT)
        assert row.expires_at == T0 + timedelta(minutes=10)
        assert CODE not in row.code_hash and row.link_hash is None
        assert row.code_hash == hashlib.sha256(b"code\0" + CODE.encode()).hexdigest()
        # The same event again (a resend): a duplicate, no second code.
        again = apply_event(db, sign_in, hut=_hut(db), received_at=T0, sign_in=KNOWN)
        assert again.outcome is Outcome.DUPLICATE
        assert len(db.scalars(select(ResidentCode)).all()) == 1

    settings = ResidentSettings()
    with sessions.begin() as db:
        assert codes.redeem_code(db, "4829 1735", now=T0, settings=settings) == zhang
    with sessions.begin() as db:
        assert codes.redeem_code(db, "4829 1735", now=T0, settings=settings) is None
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sign_in" in logged  # the scan's line is there, without the code
    assert CODE not in logged and "4829 1735" not in logged


def test_in_a_batch_a_resent_sign_in_scan_issues_one_code(
    sessions: sessionmaker[Session], zhang: int
) -> None:
    events = [card(HUT, 1, session="s1"), door(HUT, 2, session="s1")]
    sign_in = scan(HUT, 3, SIGN_IN_CARD, session="s1")
    with sessions.begin() as db:
        huts = {HUT: _hut(db)}
        result = apply_batch(
            db, [*events, sign_in, sign_in], huts=huts, received_at=T0, sign_in=KNOWN
        )
        again = apply_batch(db, [sign_in], huts=huts, received_at=T0, sign_in=KNOWN)
    outcomes = [(ack.id, ack.outcome) for ack in result.acks[HUT]]
    assert outcomes.count((sign_in.id, Outcome.APPLIED)) == 1
    assert outcomes.count((sign_in.id, Outcome.DUPLICATE)) == 1
    [shown] = [ack for ack in result.acks[HUT] if ack.feedback and "登录码" in ack.feedback.text]
    assert shown.feedback is not None and "4829 1735" in shown.feedback.text
    assert [ack.outcome for ack in again.acks[HUT]] == [Outcome.DUPLICATE]
    with sessions() as db:
        assert [row.member_id for row in db.scalars(select(ResidentCode))] == [zhang]


def test_a_drawn_code_that_is_live_already_is_drawn_again(
    sessions: sessionmaker[Session], zhang: int
) -> None:
    """Two members never hold the same live code: the loader draws again."""
    with sessions.begin() as db:
        codes.issue(
            db, member_id=zhang, via=codes.Via.HUT, now=T0, settings=ResidentSettings(), code=CODE
        )
        for event in (card(HUT, 1, session="s1"), door(HUT, 2, session="s1")):
            apply_event(db, event, hut=_hut(db), received_at=T0)
        ack = apply_event(
            db, scan(HUT, 3, SIGN_IN_CARD, session="s1"), hut=_hut(db), received_at=T0,
            sign_in=KNOWN,
        )  # fmt: skip
    assert ack.feedback is not None and "登录码" in ack.feedback.text
    assert "4829 1735" not in ack.feedback.text
    with sessions() as db:
        assert len(set(db.scalars(select(ResidentCode.code_hash)))) == 2


def test_without_a_tap_the_sign_in_card_is_refused_and_issues_nothing(
    sessions: sessionmaker[Session], zhang: int
) -> None:
    with sessions.begin() as db:
        ack = apply_event(
            db, scan(HUT, 1, SIGN_IN_CARD, card=None), hut=_hut(db), received_at=T0, sign_in=KNOWN
        )
    assert ack.outcome is Outcome.REJECTED
    assert ack.feedback is not None and ack.feedback.beep is Beep.ERROR
    assert ack.feedback.text == "请先刷卡"
    with sessions() as db:
        assert db.scalars(select(ResidentCode)).all() == []


def test_a_scan_stamped_early_by_the_gateway_gets_the_full_minutes(
    sessions: sessionmaker[Session], zhang: int
) -> None:
    late = T0 + timedelta(minutes=3)  # the gateway's clock is three minutes behind
    with sessions.begin() as db:
        for event in (card(HUT, 1, session="s1"), door(HUT, 2, session="s1")):
            apply_event(db, event, hut=_hut(db), received_at=late)
        sign_in = scan(HUT, 3, SIGN_IN_CARD, session="s1")
        apply_event(db, sign_in, hut=_hut(db), received_at=late, sign_in=KNOWN)
    with sessions() as db:
        (row,) = db.scalars(select(ResidentCode))
        assert (row.created_at, row.expires_at) == (late, late + timedelta(minutes=10))
