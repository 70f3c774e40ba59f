"""The staff half of the rule book, without a database: a Snapshot and a staff command in,
Effects out (renew, mark lost, reserve, clear repair, expire holds, members and cards)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from server.domain import (
    DEFAULT_POLICY,
    CardStatus,
    Category,
    ItemCondition,
    ItemStatus,
    MemberStatus,
    Refusal,
)
from server.domain.changes import (
    CardAdded,
    CardRemoved,
    CardStateChanged,
    Effects,
    HoldPlaced,
    ItemChanged,
    LoanClosed,
    LoanLost,
    LoanRenewed,
    MemberHutsChanged,
    MemberStatusChanged,
    NoticeQueued,
    NoticesWithdrawn,
    ReservationAdded,
    ReservationClosed,
)
from server.domain.ledger_state import (
    AccessSnapshot,
    CardState,
    ItemState,
    LoanState,
    QueuedItem,
    ReservationState,
    ReservationStatus,
    Snapshot,
)
from server.domain.rule_book import RULES, decide
from server.domain.staff_rules import (
    AddCard,
    ClearRepair,
    ExpireHold,
    JoinLine,
    LeaveLine,
    MarkLost,
    MarkReturned,
    MemberLeaves,
    ReactivateMember,
    RemoveCard,
    Renew,
    ReportCardLost,
    Reserve,
    SetMemberHuts,
    StaffCommand,
    SuspendMember,
)
from tests.server.domain_cases import NOW
from tests.server.rule_builders import HUT, LI, LI_CARD, ZHANG

ON_LOAN = ItemState(
    7, "T0001", "电钻", Category.POWER_TOOLS, ItemStatus.ON_LOAN, ItemCondition.OK, "demo-hut"
)
LOAN = LoanState(41, 7, 1, NOW - timedelta(days=1), NOW + timedelta(days=2))


def _waiting(reservation_id: int, member_id: int, *, hours_ago: int = 24) -> ReservationState:
    created = NOW - timedelta(hours=hours_ago)
    return ReservationState(reservation_id, 7, member_id, ReservationStatus.WAITING, created)


def _held(*, until: timedelta) -> ReservationState:
    created = NOW - timedelta(days=2)
    return ReservationState(9, 7, 2, ReservationStatus.HELD, created, NOW + until)


def _item(**fields: object) -> Snapshot:
    base: dict[str, object] = {"hut": HUT, "now": NOW, "item": ON_LOAN}
    base.update(fields)
    return Snapshot(**base)  # type: ignore[arg-type]


def _access(**fields: object) -> AccessSnapshot:
    return AccessSnapshot(**fields)  # type: ignore[arg-type]


def _refused(effects: Effects) -> tuple[Refusal | None, str | None]:
    assert effects.changes == ()
    return effects.reason, None if effects.feedback is None else effects.feedback.text


# Loans.


def test_renew_extends_the_due_date_by_one_period() -> None:
    effects = decide(_item(loan=LOAN, borrower=ZHANG), Renew(41))
    due = NOW + timedelta(days=5)  # from the later of now and the due date
    assert effects.changes == (LoanRenewed(41, due, 1),)
    assert effects.reason is None and effects.feedback is not None
    assert effects.feedback.text == "已续借 电钻 还期12-02"


@pytest.mark.parametrize(
    ("fields", "reason", "text"),
    [
        ({"loan": None}, Refusal.NOT_ON_LOAN, "电钻 未借出"),
        ({"loan": replace(LOAN, renewals=1)}, Refusal.MAX_RENEWALS, "续借次数已满"),
        ({"queue": (_waiting(9, 2),)}, Refusal.RESERVATION_WAITING, "有人预约 不能续借"),
        (
            {"borrower": replace(ZHANG, status=MemberStatus.SUSPENDED)},
            Refusal.MEMBER_SUSPENDED,
            "账户已暂停",
        ),
    ],
)
def test_renew_refusals(fields: dict[str, object], reason: Refusal, text: str) -> None:
    snapshot = _item(**({"loan": LOAN, "borrower": ZHANG} | fields))
    assert _refused(decide(snapshot, Renew(41))) == (reason, text)


def test_a_held_place_does_not_block_a_renewal_only_a_waiting_one() -> None:
    effects = decide(
        _item(loan=LOAN, borrower=ZHANG, queue=(_held(until=timedelta(1)),)), Renew(41)
    )
    assert effects.reason is None and len(effects.changes) == 1


def test_mark_lost_closes_the_loan_and_cancels_the_line() -> None:
    queue = (_held(until=timedelta(hours=3)), _waiting(10, 3))
    effects = decide(_item(loan=LOAN, queue=queue), MarkLost(41))
    assert effects.changes == (
        LoanLost(41, NOW),
        ItemChanged(7, status=ItemStatus.LOST),
        ReservationClosed(9, ReservationStatus.CANCELLED, NOW),
        ReservationClosed(10, ReservationStatus.CANCELLED, NOW),
    )
    assert effects.reason is None


def test_a_closed_loan_cannot_be_lost() -> None:
    effects = decide(_item(item=replace(ON_LOAN, status=ItemStatus.AVAILABLE)), MarkLost(41))
    assert _refused(effects) == (Refusal.NOT_ON_LOAN, "电钻 未借出")


def test_mark_returned_closes_the_loan_at_the_items_hut_and_frees_the_item() -> None:
    effects = decide(_item(loan=LOAN), MarkReturned(41))
    assert effects.reason is None
    assert effects.changes == (
        LoanClosed(41, NOW, HUT.id),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
    )


def test_mark_returned_holds_the_item_for_the_first_in_line() -> None:
    effects = decide(_item(loan=LOAN, queue=(_waiting(10, 3),)), MarkReturned(41))
    assert effects.changes[0] == LoanClosed(41, NOW, HUT.id)
    assert any(isinstance(change, HoldPlaced) for change in effects.changes)
    assert ItemChanged(7, status=ItemStatus.RESERVED) in effects.changes


def test_mark_returned_sends_an_item_that_needs_repair_to_the_workshop() -> None:
    broken = replace(ON_LOAN, condition=ItemCondition.NEEDS_REPAIR)
    effects = decide(_item(item=broken, loan=LOAN, queue=(_waiting(10, 3),)), MarkReturned(41))
    assert effects.changes == (
        LoanClosed(41, NOW, HUT.id),
        ItemChanged(7, status=ItemStatus.MAINTENANCE),
    )


def test_a_closed_loan_cannot_be_returned_again() -> None:
    effects = decide(_item(item=replace(ON_LOAN, status=ItemStatus.AVAILABLE)), MarkReturned(41))
    assert _refused(effects) == (Refusal.NOT_ON_LOAN, "电钻 未借出")


# Waiting lists and items.


def test_reserve_queues_the_card_holder() -> None:
    effects = decide(_item(loan=LOAN, card=LI_CARD), Reserve("T0001", LI_CARD.uid))
    assert effects.changes == (ReservationAdded(7, 2, NOW),) and effects.reason is None


@pytest.mark.parametrize(
    ("fields", "reason", "text"),
    [
        ({"card": None}, Refusal.UNKNOWN_CARD, "未知卡片"),
        ({"item": replace(ON_LOAN, status=ItemStatus.AVAILABLE)}, Refusal.ITEM_AVAILABLE, None),
        ({"item": replace(ON_LOAN, status=ItemStatus.LOST)}, Refusal.ITEM_UNAVAILABLE, None),
        ({"loan": replace(LOAN, member_id=2)}, Refusal.OWN_LOAN, "电钻 已在您手中"),
        ({"queue": (_waiting(9, 2),)}, Refusal.ALREADY_QUEUED, "已在预约队列中"),
        (
            {"card": replace(LI_CARD, member=replace(LI, status=MemberStatus.SUSPENDED))},
            Refusal.MEMBER_SUSPENDED,
            "账户已暂停",
        ),
    ],
)
def test_reserve_refusals(fields: dict[str, object], reason: Refusal, text: str | None) -> None:
    snapshot = _item(**({"loan": LOAN, "card": LI_CARD} | fields))
    got_reason, got_text = _refused(decide(snapshot, Reserve("T0001", LI_CARD.uid)))
    assert got_reason is reason and (text is None or got_text == text)


def test_a_member_in_as_many_lines_as_the_policy_allows_is_refused_one_more() -> None:
    snapshot = _item(loan=LOAN, card=LI_CARD, places=DEFAULT_POLICY.max_places - 1)
    assert decide(snapshot, Reserve("T0001", LI_CARD.uid)).reason is None
    full = replace(snapshot, places=DEFAULT_POLICY.max_places)
    assert _refused(decide(full, Reserve("T0001", LI_CARD.uid)))[0] is Refusal.TOO_MANY_PLACES


def test_a_member_joins_a_line_by_the_rule_of_reserve() -> None:
    """On their phone: named by id, no card; the same refusals as staff's reserve."""
    joined = decide(_item(loan=LOAN, member=LI), JoinLine("T0001", LI.id))
    assert joined.changes == (ReservationAdded(7, 2, NOW),)
    own = decide(_item(loan=replace(LOAN, member_id=2), member=LI), JoinLine("T0001", LI.id))
    assert _refused(own)[0] is Refusal.OWN_LOAN
    again = decide(_item(loan=LOAN, member=LI, queue=(_waiting(9, 2),)), JoinLine("T0001", 2))
    assert _refused(again)[0] is Refusal.ALREADY_QUEUED


def test_leaving_a_line_passes_the_member_s_hold_to_the_next() -> None:
    back = replace(ON_LOAN, status=ItemStatus.RESERVED)
    queue = (_held(until=timedelta(hours=3)), _waiting(10, 3, hours_ago=1))
    effects = decide(_item(item=back, queue=queue, member=LI), LeaveLine("T0001", LI.id))
    changes = effects.changes
    assert ReservationClosed(9, ReservationStatus.CANCELLED, NOW) in changes
    assert NoticesWithdrawn(9) in changes  # her unsent "ready" notice
    assert HoldPlaced(10, NOW + timedelta(hours=24)) in changes  # the next in line's turn
    [notice] = [c for c in changes if isinstance(c, NoticeQueued)]
    assert notice.member_id == 3
    nobody = decide(_item(loan=LOAN, member=LI), LeaveLine("T0001", LI.id))
    assert _refused(nobody)[0] is Refusal.NOT_QUEUED


def test_clearing_a_repaired_item_holds_it_for_the_first_in_line() -> None:
    repaired = replace(ON_LOAN, status=ItemStatus.MAINTENANCE, condition=ItemCondition.NEEDS_REPAIR)
    queue = (_waiting(9, 2), _waiting(10, 3, hours_ago=1))  # first in line first
    effects = decide(_item(item=repaired, queue=queue), ClearRepair("T0001"))
    changes = effects.changes
    assert changes[0] == ItemChanged(7, condition=ItemCondition.OK)
    assert HoldPlaced(9, NOW + timedelta(hours=24)) in changes  # the first in line: 李师傅
    assert ItemChanged(7, status=ItemStatus.RESERVED) in changes
    [notice] = [c for c in changes if isinstance(c, NoticeQueued)]
    assert notice.member_id == 2 and notice.text == "您预约的 电钻 已可领取"


def test_clearing_puts_an_item_nobody_waits_for_back_on_the_shelf() -> None:
    repaired = replace(ON_LOAN, status=ItemStatus.MAINTENANCE, condition=ItemCondition.NEEDS_REPAIR)
    effects = decide(_item(item=repaired), ClearRepair("T0001"))
    assert effects.changes == (
        ItemChanged(7, condition=ItemCondition.OK),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
    )


def test_clearing_an_item_out_of_the_workshop_only_clears_its_condition() -> None:
    effects = decide(_item(queue=(_waiting(9, 2),)), ClearRepair("T0001"))
    assert effects.changes == (ItemChanged(7, condition=ItemCondition.OK),)


def test_an_expired_hold_passes_to_the_next_in_line() -> None:
    reserved = replace(ON_LOAN, status=ItemStatus.RESERVED)
    queue = (_held(until=-timedelta(minutes=1)), _waiting(10, 3))
    effects = decide(_item(item=reserved, queue=queue), ExpireHold(9))
    changes = effects.changes
    assert changes[0] == ReservationClosed(9, ReservationStatus.EXPIRED, NOW)
    assert HoldPlaced(10, NOW + timedelta(hours=24)) in changes
    [notice] = [c for c in changes if isinstance(c, NoticeQueued)]
    assert notice.member_id == 3 and notice.reservation_id == 10


def test_an_expired_hold_with_nobody_after_frees_the_item() -> None:
    reserved = replace(ON_LOAN, status=ItemStatus.RESERVED)
    effects = decide(_item(item=reserved, queue=(_held(until=timedelta(0)),)), ExpireHold(9))
    assert effects.changes == (
        ReservationClosed(9, ReservationStatus.EXPIRED, NOW),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
    )


def test_a_hold_still_in_time_stays() -> None:
    reserved = replace(ON_LOAN, status=ItemStatus.RESERVED)
    effects = decide(_item(item=reserved, queue=(_held(until=timedelta(1)),)), ExpireHold(9))
    assert effects == Effects()


# Who may open the huts.


def test_suspend_and_reactivate_change_the_status_once() -> None:
    suspended = replace(ZHANG, status=MemberStatus.SUSPENDED)
    assert decide(_access(member=ZHANG), SuspendMember(1)).changes == (
        MemberStatusChanged(1, MemberStatus.SUSPENDED),
    )
    assert decide(_access(member=suspended), SuspendMember(1)) == Effects()
    assert decide(_access(member=suspended), ReactivateMember(1)).changes == (
        MemberStatusChanged(1, MemberStatus.ACTIVE),
    )
    assert decide(_access(member=ZHANG), ReactivateMember(1)) == Effects()


def test_a_suspension_keeps_staffs_reason_and_a_new_reason_replaces_it() -> None:
    suspended = replace(ZHANG, status=MemberStatus.SUSPENDED)
    assert decide(_access(member=ZHANG), SuspendMember(1, reason="欠还")).changes == (
        MemberStatusChanged(1, MemberStatus.SUSPENDED, reason="欠还"),
    )
    assert decide(_access(member=suspended), SuspendMember(1, reason="损坏")).changes == (
        MemberStatusChanged(1, MemberStatus.SUSPENDED, reason="损坏"),
    )


def test_the_huts_a_member_may_open_change_only_when_they_differ() -> None:
    north = frozenset({"north-hut"})
    assert decide(_access(member=ZHANG), SetMemberHuts(1, north)).changes == (
        MemberHutsChanged(1, north),
    )
    limited = _access(member=ZHANG, member_huts=north)
    assert decide(limited, SetMemberHuts(1, north)) == Effects()
    assert decide(limited, SetMemberHuts(1, frozenset())).changes == (
        MemberHutsChanged(1, frozenset()),
    )


def test_a_member_leaving_loses_every_card_and_place_and_passes_a_hold_on() -> None:
    own = CardState("04A1B2C3", CardStatus.ACTIVE, ZHANG)
    spare = CardState("0C0FFEE0", CardStatus.LOST, ZHANG)
    reserved = replace(ON_LOAN, status=ItemStatus.RESERVED)
    held_for_zhang = ReservationState(
        9, 7, 1, ReservationStatus.HELD, NOW - timedelta(days=2), NOW + timedelta(hours=3)
    )
    ladder = replace(ON_LOAN, id=8, tag="T0003")
    zhang_waits = ReservationState(11, 8, 1, ReservationStatus.WAITING, NOW - timedelta(hours=1))
    snapshot = _access(
        member=ZHANG,
        cards=(own, spare),
        places=(
            QueuedItem(reserved, (held_for_zhang, _waiting(10, 2))),
            QueuedItem(ladder, (zhang_waits,)),
        ),
    )
    effects = decide(snapshot, MemberLeaves(1, at=NOW, reason="搬走"))
    assert effects.reason is None
    assert effects.changes[:2] == (CardRemoved("04A1B2C3"), CardRemoved("0C0FFEE0"))
    changes = effects.changes[2:]
    assert changes[:2] == (
        ReservationClosed(9, ReservationStatus.CANCELLED, NOW),
        NoticesWithdrawn(9),
    )
    assert any(isinstance(c, HoldPlaced) and c.reservation_id == 10 for c in changes)
    assert ItemChanged(7, status=ItemStatus.RESERVED) in changes
    assert any(isinstance(c, NoticeQueued) and c.member_id == 2 for c in changes)
    assert ReservationClosed(11, ReservationStatus.CANCELLED, NOW) in changes
    assert not any(isinstance(c, ItemChanged) and c.item_id == 8 for c in changes)
    assert not any(isinstance(c, LoanLost) for c in changes)
    assert changes[-1] == MemberStatusChanged(1, MemberStatus.LEFT, reason="搬走", at=NOW)


def test_a_held_item_of_a_leaving_member_with_nobody_after_goes_back_on_the_shelf() -> None:
    reserved = replace(ON_LOAN, status=ItemStatus.RESERVED)
    held = ReservationState(9, 7, 1, ReservationStatus.HELD, NOW, NOW + timedelta(hours=3))
    snapshot = _access(member=ZHANG, places=(QueuedItem(reserved, (held,)),))
    assert decide(snapshot, MemberLeaves(1, at=NOW)).changes == (
        ReservationClosed(9, ReservationStatus.CANCELLED, NOW),
        NoticesWithdrawn(9),
        ItemChanged(7, status=ItemStatus.AVAILABLE),
        MemberStatusChanged(1, MemberStatus.LEFT, at=NOW),
    )


def test_a_member_with_items_on_loan_cannot_leave_yet() -> None:
    own = CardState("04A1B2C3", CardStatus.ACTIVE, ZHANG)
    place = QueuedItem(ON_LOAN, (_waiting(11, 1),))
    snapshot = _access(member=ZHANG, cards=(own,), places=(place,), open_loans=2)
    refused = decide(snapshot, MemberLeaves(1, at=NOW, reason="搬走"))
    assert _refused(refused) == (Refusal.OPEN_LOANS, "仍有 2 件物品未归还")
    allowed = decide(replace(snapshot, open_loans=0), MemberLeaves(1, at=NOW, reason="搬走"))
    assert allowed.reason is None
    assert allowed.changes[0] == CardRemoved("04A1B2C3")
    assert allowed.changes[-1] == MemberStatusChanged(1, MemberStatus.LEFT, reason="搬走", at=NOW)


def test_a_member_who_left_leaves_once() -> None:
    gone = replace(ZHANG, status=MemberStatus.LEFT)
    assert decide(_access(member=gone), MemberLeaves(1, at=NOW)) == Effects()
    assert decide(_access(member=gone, open_loans=1), MemberLeaves(1, at=NOW)) == Effects()


def test_add_card_gives_a_new_card_and_refuses_one_in_use() -> None:
    assert decide(_access(member=ZHANG), AddCard(1, "0C0FFEE0")).changes == (
        CardAdded(1, "0C0FFEE0"),
    )
    taken = decide(_access(member=ZHANG, card=LI_CARD), AddCard(1, LI_CARD.uid))
    assert _refused(taken) == (Refusal.CARD_IN_USE, "此卡已登记给一位住户")
    own = CardState("04A1B2C3", CardStatus.ACTIVE, ZHANG)
    assert _refused(decide(_access(member=ZHANG, card=own), AddCard(1, own.uid)))[0] is (
        Refusal.CARD_IN_USE
    )


def test_remove_and_report_a_card_lost() -> None:
    assert decide(_access(card=LI_CARD), RemoveCard(LI_CARD.uid)).changes == (
        CardRemoved(LI_CARD.uid),
    )
    assert decide(_access(card=LI_CARD), ReportCardLost(LI_CARD.uid)).changes == (
        CardStateChanged(LI_CARD.uid, CardStatus.LOST),
    )
    lost = replace(LI_CARD, state=CardStatus.LOST)
    assert decide(_access(card=lost), ReportCardLost(lost.uid)) == Effects()


def test_every_staff_command_has_its_rule_in_the_one_rule_book() -> None:
    assert set(StaffCommand.__args__) <= set(RULES)


def test_a_snapshot_without_what_the_command_names_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="no member"):
        decide(_access(), SuspendMember(1))
