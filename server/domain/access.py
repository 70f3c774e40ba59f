"""Who may open a hut: a card's access follows from the card and its member, and at each
hut from the huts the member may open; the member's flags say who opens outside the hours."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from enum import StrEnum

from server.domain.model import CardStatus, MemberFlag, MemberStatus


class CardAccess(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LOST = "lost"
    ELSEWHERE = "elsewhere"  # an active member's card, at a hut the member may not open


def card_access(*, card: CardStatus, member: MemberStatus) -> CardAccess:
    # Lost wins over suspended: whoever taps a lost card is not its member, and the hut
    # should say so rather than blame the member's account.
    if card is CardStatus.LOST:
        return CardAccess.LOST
    if member is not MemberStatus.ACTIVE:
        return CardAccess.SUSPENDED
    return CardAccess.ACTIVE


@dataclass(frozen=True, slots=True)
class HutLimits:
    """Which cards are ELSEWHERE at which hut: the active cards of members who may open
    some huts only (a member's huts; none: every hut), at every other hut. Lost and
    suspended cards say more, and stay what they are at every hut. Built once for all huts,
    so a hut's part is one set difference."""

    limited: frozenset[str]  # active cards whose member may open some huts only
    opening: Mapping[str, frozenset[str]]  # hut -> the limited cards that open it

    @classmethod
    def of(cls, cards: Iterable[tuple[str, CardAccess, Set[str]]]) -> HutLimits:
        """From (uid, access, the huts its member may open) of every card."""
        limited: set[str] = set()
        opening: defaultdict[str, set[str]] = defaultdict(set)
        for uid, access, member_huts in cards:
            if access is CardAccess.ACTIVE and member_huts:
                limited.add(uid)
                for hut in member_huts:
                    opening[hut].add(uid)
        return cls(frozenset(limited), {hut: frozenset(uids) for hut, uids in opening.items()})

    def elsewhere_at(self, hut: str) -> frozenset[str]:
        return self.limited - self.opening.get(hut, frozenset())


def opens_anytime(access: CardAccess, *, flags: Set[str]) -> bool:
    """Whether a card (with its access at a hut) opens it outside the opening hours too:
    the active cards of staff, who do stocktakes and repairs."""
    return access is CardAccess.ACTIVE and MemberFlag.STAFF in flags
