from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain import (
    Action,
    Category,
    ItemStatus,
    ItemView,
    LoanView,
    MemberStatus,
    MemberView,
    Refusal,
    parse_scan_text,
)
from server.domain.lending import MAX_DISPLAY_BYTES, display
from tests.server.domain_cases import NOW, ZHANG, decide

ACTIVE = ZHANG


def test_borrow_sets_due_date_and_says_so() -> None:
    decision = decide()
    assert decision.action is Action.BORROW
    assert decision.due_at == NOW + timedelta(days=3)
    assert decision.feedback.ok
    assert decision.feedback.text == "已借出 电钻 还期11-30"


def test_due_date_shown_in_hut_time_zone() -> None:
    # 20:00 UTC is 04:00 the next day in Shanghai.
    late = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert decide(now=late).feedback.text == "已借出 电钻 还期12-01"


@pytest.mark.parametrize(
    ("category", "days"),
    [
        (Category.POWER_TOOLS, 3),
        (Category.LADDERS, 1),
        (Category.FITNESS, 7),
        (Category.FIRST_AID, 7),
        (Category.HAND_TOOLS, 3),
        ("something_new", 3),
    ],
)
def test_due_date_per_category(category: str, days: int) -> None:
    item = ItemView("T0009", "东西", category, ItemStatus.AVAILABLE)
    assert decide(item=item).due_at == NOW + timedelta(days=days)


def test_return_works_for_anyone_even_without_card() -> None:
    loan = LoanView(NOW - timedelta(days=1), NOW + timedelta(days=2))
    on_loan = ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.ON_LOAN)
    for card, member in [(None, None), ("04D5E6F7", MemberView("李师傅", MemberStatus.ACTIVE))]:
        decision = decide(item=on_loan, open_loan=loan, card=card, member=member)
        assert decision.action is Action.RETURN
        assert decision.feedback.ok
        assert decision.feedback.text == "已归还 电钻"


@pytest.mark.parametrize(
    ("overrides", "reason", "text"),
    [
        (
            {
                "card": None,
                "member": None,
                "item": ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.RESERVED),
            },
            Refusal.NO_SESSION,
            "请先刷卡",
        ),
        ({"member": None}, Refusal.UNKNOWN_CARD, "未知卡片"),
        (
            {"member": MemberView("王", MemberStatus.SUSPENDED)},
            Refusal.MEMBER_SUSPENDED,
            "账户已暂停",
        ),
        ({"item": None}, Refusal.UNKNOWN_ITEM, "未知物品"),
        ({"tag": None, "item": None}, Refusal.UNREADABLE_LABEL, "无法识别标签"),
        (
            {"item": ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.MAINTENANCE)},
            Refusal.ITEM_IN_MAINTENANCE,
            "电钻 维修中 暂不可借",
        ),
        (
            {"item": ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.RETIRED)},
            Refusal.ITEM_UNAVAILABLE,
            "电钻 暂不可借",
        ),
    ],
)
def test_refusals(overrides: dict[str, object], reason: Refusal, text: str) -> None:
    decision = decide(**overrides)
    assert decision.action is Action.REFUSE
    assert decision.reason is reason
    assert not decision.feedback.ok
    assert decision.feedback.text == text
    assert decision.due_at is None


def test_long_names_are_shortened_to_fit_the_display() -> None:
    item = ItemView("T0001", "超" * 40, Category.POWER_TOOLS, ItemStatus.AVAILABLE)
    text = decide(item=item).feedback.text
    assert len(text.encode()) <= MAX_DISPLAY_BYTES
    assert text.startswith("已借出 超") and text.endswith("… 还期11-30")
    assert display("已归还 {name}", name="短") == "已归还 短"


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("T0001", "T0001"),
        (" t0001\n", "T0001"),
        ("https://hut.example.org/i/T0001", "T0001"),
        ("http://127.0.0.1:8000/i/T0042/", "T0042"),
        ("https://example.org/toolhut/i/T0007?src=label#x", "T0007"),
        ("https://example.org/i/extra/i/T0003", "T0003"),
        ("example.org/i/T0005", "T0005"),
        ("https://example.org/i/T0001/more", None),
        ("https://example.org/items/T0001", None),
        ("", None),
        ("hello world", None),
        ("T" * 40, None),
    ],
)
def test_parse_scan_text(text: str, tag: str | None) -> None:
    assert parse_scan_text(text) == tag
