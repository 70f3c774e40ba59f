"""Enrol at the hut in one step, as pure rules: an enrol read at a hut with staff's
waiting request binds the card to the request's member (or refuses a card that is
another's); expiry is judged at the tap's time; without a request only the read is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.domain.changes import CardAdded, EnrolmentClosed, EnrolmentRead
from server.domain.commands import EnrolRead
from server.domain.hut_rules import ENROL_CLOCK_SKEW, enrolment_status
from server.domain.ledger_state import EnrolmentState, EnrolmentStatus
from server.domain.rule_book import decide
from tests.server.domain_cases import NOW
from tests.server.rule_builders import CARD, LI, LI_CARD, ZHANG, snapshot

NEW_UID = "0C0FFEE0"
SECOND = timedelta(seconds=1)
FOR_LI = EnrolmentState(9, LI.id, NOW - timedelta(seconds=20), NOW + timedelta(seconds=40), "amy")


def enrol(uid: str = NEW_UID) -> EnrolRead:
    return EnrolRead(uid.lower(), "e-1")


def read(member_id: int | None, uid: str = NEW_UID) -> EnrolmentRead:
    return EnrolmentRead("demo-hut", uid, "e-1", NOW, member_id)


def closed(
    state: EnrolmentStatus, uid: str = NEW_UID, *, new_card: bool = False
) -> EnrolmentClosed:
    return EnrolmentClosed(9, state, NOW, uid, LI.id, "demo-hut", "amy", new_card=new_card)


def test_a_new_card_is_bound_to_the_member_the_request_names() -> None:
    effects = decide(snapshot(card=None, door=None, enrolment=FOR_LI), enrol())
    assert effects.changes == (
        read(None),
        CardAdded(LI.id, NEW_UID, bound_at=NOW),
        closed(EnrolmentStatus.BOUND, new_card=True),
    )
    assert effects.reason is None


def test_another_members_card_refuses_the_request_and_binds_nothing() -> None:
    effects = decide(snapshot(card=CARD, door=None, enrolment=FOR_LI), enrol(CARD.uid))
    assert effects.changes == (read(ZHANG.id, CARD.uid), closed(EnrolmentStatus.REFUSED, CARD.uid))
    assert not [c for c in effects.changes if isinstance(c, CardAdded)]


def test_the_members_own_card_answers_the_request_with_nothing_to_bind() -> None:
    effects = decide(snapshot(card=LI_CARD, door=None, enrolment=FOR_LI), enrol(LI_CARD.uid))
    assert effects.changes == (read(LI.id, LI_CARD.uid), closed(EnrolmentStatus.BOUND, LI_CARD.uid))


@pytest.mark.parametrize(
    "request_",
    [
        None,
        EnrolmentState(9, LI.id, NOW - timedelta(seconds=60), NOW, "amy"),  # expired at the tap
        EnrolmentState(9, LI.id, NOW + ENROL_CLOCK_SKEW + timedelta(seconds=1), NOW, "amy"),
    ],
    ids=["no-request", "expired", "made-after-the-tap"],
)
def test_without_a_request_the_tap_only_lists_the_card(request_: EnrolmentState | None) -> None:
    effects = decide(snapshot(card=None, door=None, enrolment=request_), enrol())
    assert effects.changes == (read(None),)


def test_expiry_is_judged_at_the_taps_time_not_when_it_arrives() -> None:
    # Stamped one second before the request ran out (reported later by an offline hut).
    late = decide(
        snapshot(
            card=None, door=None, enrolment=FOR_LI, now=FOR_LI.expires_at - timedelta(seconds=1)
        ),
        enrol(),
    )
    assert any(isinstance(c, CardAdded) for c in late.changes)
    # A gateway clock a little behind the server's: the tap still counts.
    behind = FOR_LI.created_at - ENROL_CLOCK_SKEW
    early = decide(snapshot(card=None, door=None, enrolment=FOR_LI, now=behind), enrol())
    assert any(isinstance(c, CardAdded) for c in early.changes)


def test_a_waiting_request_reads_expired_from_its_time_on() -> None:
    expires = FOR_LI.expires_at
    waiting = EnrolmentStatus.WAITING
    assert (
        enrolment_status(waiting, expires_at=expires, now=expires - timedelta(seconds=1)) is waiting
    )
    assert enrolment_status(waiting, expires_at=expires, now=expires) is EnrolmentStatus.EXPIRED
    bound = EnrolmentStatus.BOUND
    assert enrolment_status(bound, expires_at=expires, now=expires + SECOND) is bound
