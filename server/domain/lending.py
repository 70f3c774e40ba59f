"""The borrow/return decision for one scan, and what the hut says back.

The same scan toggles: an item on loan comes back (whoever scans it, so a neighbour can
return it), an available item goes out to the card holder of the open session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from server.domain.model import ItemStatus, ItemView, LoanView, MemberStatus, MemberView
from server.domain.policy import DEFAULT_POLICY, LoanPolicy

MAX_DISPLAY_BYTES = 64


class Action(StrEnum):
    BORROW = "borrow"
    RETURN = "return"
    REFUSE = "refuse"


class Refusal(StrEnum):
    NO_SESSION = "no_session"
    UNKNOWN_CARD = "unknown_card"
    MEMBER_SUSPENDED = "member_suspended"
    UNREADABLE_LABEL = "unreadable_label"
    UNKNOWN_ITEM = "unknown_item"
    ITEM_UNAVAILABLE = "item_unavailable"


_REFUSAL_TEXT: dict[Refusal, str] = {
    Refusal.NO_SESSION: "请先刷卡",
    Refusal.UNKNOWN_CARD: "未知卡片",
    Refusal.MEMBER_SUSPENDED: "账户已暂停",
    Refusal.UNREADABLE_LABEL: "无法识别标签",
    Refusal.UNKNOWN_ITEM: "未知物品",
    Refusal.ITEM_UNAVAILABLE: "{name} 暂不可借",
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
) -> Decision:
    """``tag`` comes from parse_scan_text (None: the label was unreadable); ``member``
    owns ``card``; ``open_loan`` is the item's loan not yet returned."""
    if tag is None:
        return refuse(Refusal.UNREADABLE_LABEL)
    if item is None:
        return refuse(Refusal.UNKNOWN_ITEM)
    if open_loan is not None:
        return Decision(Action.RETURN, Feedback(True, display("已归还 {name}", name=item.name_zh)))
    if item.status is not ItemStatus.AVAILABLE:
        return refuse(Refusal.ITEM_UNAVAILABLE, name=item.name_zh)
    refusal = check_card(card, member)
    if refusal is not None:
        return refuse(refusal)
    due = policy.due_at(item.category, borrowed_at=now)
    text = display("已借出 {name} 还期" + due.astimezone(tz).strftime("%m-%d"), name=item.name_zh)
    return Decision(Action.BORROW, Feedback(True, text), due_at=due)


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
