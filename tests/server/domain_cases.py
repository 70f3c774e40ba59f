"""A drill, a resident and a fixed moment: the defaults the domain tests vary one at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from server.domain import (
    Category,
    Decision,
    ItemStatus,
    ItemView,
    MemberStatus,
    MemberView,
    decide_scan,
)

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
DRILL = ItemView("T0001", "电钻", Category.POWER_TOOLS, ItemStatus.AVAILABLE)
ZHANG = MemberView("张阿姨", MemberStatus.ACTIVE)


def decide(**overrides: object) -> Decision:
    """``decide_scan`` for 张阿姨 scanning the available drill at NOW, but for ``overrides``."""
    args: dict[str, object] = {
        "tag": "T0001",
        "card": "04A1B2C3",
        "member": ZHANG,
        "item": DRILL,
        "open_loan": None,
        "now": NOW,
        "tz": SHANGHAI,
    }
    args.update(overrides)
    return decide_scan(**args)  # type: ignore[arg-type]
