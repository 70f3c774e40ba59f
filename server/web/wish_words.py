"""A wish's step and outcome in the plain words residents read (提议, 已议, 已办, 已评),
on their own wish pages and on the public overview; staff's console has its own names
(server/domain/wishes.py STATUS_NAMES)."""

from __future__ import annotations

from server.domain.wishes import WishOutcome, WishStatus
from toolhut.i18n import N_

STEP_WORDS = {
    WishStatus.PROPOSED: N_("Proposed"),
    WishStatus.DELIBERATED: N_("Deliberated"),
    WishStatus.HANDLED: N_("Handled"),
    WishStatus.EVALUATED: N_("Evaluated"),
}
OUTCOME_WORDS = {
    WishOutcome.BOUGHT: N_("Bought for the hut."),
    WishOutcome.DONATED: N_("Donated by {partner}."),
    WishOutcome.LENT: N_("Lent by a neighbour."),
    WishOutcome.DECLINED: N_("Declined: {reason}"),
}
