"""Who may open which hut, and when: the domain's rules alone, no database."""

from __future__ import annotations

from server.domain import (
    CardAccess,
    CardStatus,
    HutLimits,
    MemberStatus,
    card_access,
    opens_anytime,
)


def test_lost_wins_over_suspended_and_an_active_members_card_opens() -> None:
    assert card_access(card=CardStatus.LOST, member=MemberStatus.SUSPENDED) is CardAccess.LOST
    assert card_access(card=CardStatus.ACTIVE, member=MemberStatus.LEFT) is CardAccess.SUSPENDED
    assert card_access(card=CardStatus.ACTIVE, member=MemberStatus.ACTIVE) is CardAccess.ACTIVE


def test_a_card_is_elsewhere_at_the_huts_its_member_may_not_open_and_only_if_active() -> None:
    limits = HutLimits.of(
        [
            ("A", CardAccess.ACTIVE, frozenset()),  # every hut
            ("B", CardAccess.ACTIVE, frozenset({"north"})),
            ("C", CardAccess.ACTIVE, frozenset({"north", "south"})),
            ("D", CardAccess.SUSPENDED, frozenset({"north"})),  # says suspended everywhere
            ("E", CardAccess.LOST, frozenset({"south"})),
        ]
    )
    assert limits.elsewhere_at("north") == frozenset()
    assert limits.elsewhere_at("south") == {"B"}
    assert limits.elsewhere_at("east") == {"B", "C"}


def test_only_the_active_cards_of_staff_open_anytime() -> None:
    assert opens_anytime(CardAccess.ACTIVE, flags={"staff", "senior"})
    assert not opens_anytime(CardAccess.ACTIVE, flags={"senior"})
    assert not opens_anytime(CardAccess.SUSPENDED, flags={"staff"})
    assert not opens_anytime(CardAccess.LOST, flags={"staff"})
