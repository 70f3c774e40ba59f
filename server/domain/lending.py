"""The borrow/return decision for one scan, and what the hut says back.

The same scan toggles: an item on loan comes back (whoever scans it, so a neighbour can
return it), an available item goes out to the card holder of the open session. An item
scanned with no loan open and no card (or one listed as lost) is taken in as *found*: it is
back on the shelf, and staff hear about it as an anomaly rather than the resident an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from server.domain.model import (
    ItemCondition,
    ItemStatus,
    ItemView,
    LoanView,
    MemberStatus,
    MemberView,
)
from server.domain.policy import DEFAULT_POLICY, LoanPolicy

MAX_DISPLAY_BYTES = 64


class Action(StrEnum):
    BORROW = "borrow"
    RETURN = "return"
    FOUND = "found"  # back on the shelf without an open loan: an anomaly for staff
    RENEW = "renew"
    TAKE = "take"  # a consumable, not to come back
    COUNT = "count"  # a scan in a stocktake session
    CONDITION = "condition"  # a condition card, about the last return
    REFUSE = "refuse"


class Refusal(StrEnum):
    NO_SESSION = "no_session"
    UNKNOWN_CARD = "unknown_card"
    MEMBER_SUSPENDED = "member_suspended"
    UNREADABLE_LABEL = "unreadable_label"
    UNKNOWN_ITEM = "unknown_item"
    ITEM_UNAVAILABLE = "item_unavailable"
    ITEM_IN_MAINTENANCE = "item_in_maintenance"
    RESERVED_FOR_OTHER = "reserved_for_other"
    OVER_LIMIT = "over_limit"
    MAX_RENEWALS = "max_renewals"
    RESERVATION_WAITING = "reservation_waiting"
    NOT_ON_LOAN = "not_on_loan"
    ITEM_AVAILABLE = "item_available"  # reserving what is on the shelf: just borrow it
    OWN_LOAN = "own_loan"
    ALREADY_QUEUED = "already_queued"
    OUT_OF_STOCK = "out_of_stock"
    CARD_IN_USE = "card_in_use"  # staff give a member a card that is someone's already
    ITEM_ON_LOAN = "item_on_loan"  # staff set the status of an item a member has
    STATUS_UNCHANGED = "status_unchanged"  # staff set the status the item has already
    OPEN_LOANS = "open_loans"  # a member leaving who still has items on loan


_REFUSAL_TEXT: dict[Refusal, str] = {
    Refusal.NO_SESSION: "请先刷卡",
    Refusal.UNKNOWN_CARD: "未知卡片",
    Refusal.MEMBER_SUSPENDED: "账户已暂停",
    Refusal.UNREADABLE_LABEL: "无法识别标签",
    Refusal.UNKNOWN_ITEM: "未知物品",
    Refusal.ITEM_UNAVAILABLE: "{name} 暂不可借",
    Refusal.ITEM_IN_MAINTENANCE: "{name} 维修中 暂不可借",
    Refusal.RESERVED_FOR_OTHER: "{name} 已为他人预留",
    Refusal.OVER_LIMIT: "已达借用上限 请先归还",
    Refusal.MAX_RENEWALS: "续借次数已满",
    Refusal.RESERVATION_WAITING: "有人预约 不能续借",
    Refusal.NOT_ON_LOAN: "{name} 未借出",
    Refusal.ITEM_AVAILABLE: "{name} 可直接借用",
    Refusal.OWN_LOAN: "{name} 已在您手中",
    Refusal.ALREADY_QUEUED: "已在预约队列中",
    Refusal.OUT_OF_STOCK: "{name} 已用完",
    Refusal.CARD_IN_USE: "此卡已登记给一位住户",
    Refusal.ITEM_ON_LOAN: "{name} 已借出",
    Refusal.STATUS_UNCHANGED: "{name} 已是此状态",
    Refusal.OPEN_LOANS: "仍有 {name} 件物品未归还",  # {name}: how many
}

CONDITION_TEXT: dict[ItemCondition, str] = {
    ItemCondition.OK: "已记录 完好",
    ItemCondition.NEEDS_REPAIR: "已记录 需维修 谢谢",
    ItemCondition.MISSING_PART: "已记录 缺少配件 谢谢",
}


@dataclass(frozen=True, slots=True)
class Feedback:
    """A beep (ok or error) and a display text of at most 64 UTF-8 bytes."""

    ok: bool
    text: str


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    feedback: Feedback
    reason: Refusal | None = None
    due_at: datetime | None = None


def check_card(card: str | None, member: MemberView | None) -> Refusal | None:
    """Why the card holder may not borrow, or None if they may."""
    if card is None:
        return Refusal.NO_SESSION
    if member is None:
        return Refusal.UNKNOWN_CARD
    if member.status is not MemberStatus.ACTIVE:
        return Refusal.MEMBER_SUSPENDED
    return None


def decide_scan(
    *,
    tag: str | None,
    card: str | None,
    member: MemberView | None,
    item: ItemView | None,
    open_loan: LoanView | None,
    now: datetime,
    tz: tzinfo,
    policy: LoanPolicy = DEFAULT_POLICY,
    open_loans_in_category: int = 0,
    held_for_member: bool = False,
) -> Decision:
    """``tag`` comes from parse_scan_text (None: the label was unreadable); ``member``
    owns ``card``; ``open_loan`` is the item's loan not yet returned;
    ``open_loans_in_category`` counts the member's open loans of the item's category;
    ``held_for_member``: the item is reserved and the hold is this member's."""
    if tag is None:
        return refuse(Refusal.UNREADABLE_LABEL)
    if item is None:
        return refuse(Refusal.UNKNOWN_ITEM)
    name = item.name_zh
    if open_loan is not None:
        return Decision(Action.RETURN, Feedback(True, display("已归还 {name}", name=name)))
    if item.status is ItemStatus.LOST or (card is None and item.status is ItemStatus.AVAILABLE):
        return Decision(Action.FOUND, Feedback(True, display("已收到 {name}", name=name)))
    if item.status is ItemStatus.MAINTENANCE or item.condition is ItemCondition.NEEDS_REPAIR:
        return refuse(Refusal.ITEM_IN_MAINTENANCE, name=name)
    if item.status not in (ItemStatus.AVAILABLE, ItemStatus.RESERVED):
        return refuse(Refusal.ITEM_UNAVAILABLE, name=name)
    refusal = check_card(card, member)
    if refusal is not None:
        return refuse(refusal)
    assert member is not None
    if item.status is ItemStatus.RESERVED and not held_for_member:
        return refuse(Refusal.RESERVED_FOR_OTHER, name=name)
    if open_loans_in_category >= policy.rule(item.category).max_per_member:
        return refuse(Refusal.OVER_LIMIT)
    due = policy.due_at(item.category, borrowed_at=now, item=item, flags=member.flags)
    text = display("已借出 {name} 还期" + due.astimezone(tz).strftime("%m-%d"), name=name)
    return Decision(Action.BORROW, Feedback(True, text), due_at=due)


def decide_renewal(
    *,
    item: ItemView,
    loan: LoanView | None,
    member: MemberView,
    waiting: int,
    now: datetime,
    tz: tzinfo,
    policy: LoanPolicy = DEFAULT_POLICY,
) -> Decision:
    """Extend an open loan by one more period, counted from the later of now and the due
    date (an overdue renewal does not start in the past). ``waiting``: members queued."""
    if loan is None:
        return refuse(Refusal.NOT_ON_LOAN, name=item.name_zh)
    if member.status is not MemberStatus.ACTIVE:
        return refuse(Refusal.MEMBER_SUSPENDED)
    if waiting > 0:
        return refuse(Refusal.RESERVATION_WAITING)
    if loan.renewals >= policy.max_renewals(item):
        return refuse(Refusal.MAX_RENEWALS)
    due = policy.due_at(
        item.category, borrowed_at=max(loan.due_at, now), item=item, flags=member.flags
    )
    text = display("已续借 {name} 还期" + due.astimezone(tz).strftime("%m-%d"), name=item.name_zh)
    return Decision(Action.RENEW, Feedback(True, text), due_at=due)


def check_reservation(
    *, item: ItemView, member: MemberView, borrower_is_member: bool, already_queued: bool
) -> Refusal | None:
    """Why ``member`` may not join the waiting list for ``item``, or None if they may."""
    if member.status is not MemberStatus.ACTIVE:
        return Refusal.MEMBER_SUSPENDED
    if item.status is ItemStatus.AVAILABLE:
        return Refusal.ITEM_AVAILABLE
    if item.status not in (ItemStatus.ON_LOAN, ItemStatus.RESERVED, ItemStatus.MAINTENANCE):
        return Refusal.ITEM_UNAVAILABLE
    if borrower_is_member:
        return Refusal.OWN_LOAN
    if already_queued:
        return Refusal.ALREADY_QUEUED
    return None


def status_after_return(*, condition: ItemCondition, waiting: bool) -> ItemStatus:
    """Where a returned (or found, or cleared) item stands: held for the next in line,
    in the workshop, or on the shelf."""
    if condition is ItemCondition.NEEDS_REPAIR:
        return ItemStatus.MAINTENANCE
    return ItemStatus.RESERVED if waiting else ItemStatus.AVAILABLE


def hold_until(*, category: str, now: datetime, policy: LoanPolicy = DEFAULT_POLICY) -> datetime:
    return now + policy.rule(category).hold_period


def decide_take(
    *, name: str, quantity: int, card: str | None, member: MemberView | None
) -> Decision:
    """A consumable (first-aid supplies) is taken, not lent: one per scan, by a member."""
    refusal = check_card(card, member)
    if refusal is not None:
        return refuse(refusal)
    if quantity <= 0:
        return refuse(Refusal.OUT_OF_STOCK, name=name)
    text = display("已领取 {name} 剩" + str(quantity - 1), name=name)
    return Decision(Action.TAKE, Feedback(True, text))


def refuse(reason: Refusal, *, name: str = "") -> Decision:
    return Decision(
        Action.REFUSE, Feedback(False, display(_REFUSAL_TEXT[reason], name=name)), reason
    )


def display(template: str, *, name: str) -> str:
    """Fill ``{name}`` into the template, shortening the name so the text fits the display."""
    text = template.format(name=name)
    while len(text.encode()) > MAX_DISPLAY_BYTES and name:
        name = name[:-1]
        text = template.format(name=name + "…")
    return text
