"""Every text the labels print that is not the caller's data: Chinese first, English beside."""

from __future__ import annotations

ITEM_HINT = "扫码借还"  # scan to borrow or return
SUPPLY_HINT = "扫码领取"  # scan to take one (supplies are taken, not lent)
CARD_TITLE_ZH = "共享工具屋会员卡"
CARD_TITLE_EN = "Tool hut member card"
