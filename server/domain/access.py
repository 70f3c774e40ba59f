"""Who may open a hut: a card's access follows from the card and its member."""

from __future__ import annotations

from enum import StrEnum

from server.domain.model import CardStatus, MemberStatus


class CardAccess(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LOST = "lost"


def card_access(*, card: CardStatus, member: MemberStatus) -> CardAccess:
    # Lost wins over suspended: whoever taps a lost card is not its member, and the hut
    # should say so rather than blame the member's account.
    if card is CardStatus.LOST:
        return CardAccess.LOST
    if member is not MemberStatus.ACTIVE:
        return CardAccess.SUSPENDED
    return CardAccess.ACTIVE
