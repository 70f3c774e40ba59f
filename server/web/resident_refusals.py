"""Why a resident's own renewal or waiting-list request is refused, in plain words on their
phone (the hut's display says it in 64 bytes; a page has room to say what to do)."""

from __future__ import annotations

from server.domain import Refusal
from toolhut.i18n import N_

_WHY: dict[Refusal, str] = {
    Refusal.MAX_RENEWALS: N_(
        "No renewals left for this item: please bring it back by the due date."
    ),
    Refusal.RESERVATION_WAITING: N_(
        "A neighbour is waiting for it, so it cannot be renewed: please bring it back by "
        "the due date."
    ),
    Refusal.MEMBER_SUSPENDED: N_(
        "Your account is suspended, so you cannot renew or reserve now: please talk to the "
        "community staff."
    ),
    Refusal.NOT_ON_LOAN: N_("This loan is closed already: the item is back."),
    Refusal.ITEM_AVAILABLE: N_(
        "It is on the shelf: no need to wait. Tap your card at the hut and borrow it."
    ),
    Refusal.ITEM_UNAVAILABLE: N_(
        "It is not lent out any more (retired or lost), so it has no waiting list."
    ),
    Refusal.OWN_LOAN: N_("You have it yourself: no need to wait for it."),
    Refusal.ALREADY_QUEUED: N_("You are in this waiting list already."),
    Refusal.TOO_MANY_PLACES: N_(
        "You are in as many waiting lists as one may be at once: leave one first."
    ),
    Refusal.NOT_QUEUED: N_("You are not in this waiting list (any more)."),
}
TEXT_REFUSED = N_("That cannot be done now.")


def why(reason: Refusal | None) -> str:
    """The catalogue text (an English id) saying why ``reason`` stops the resident."""
    return _WHY.get(reason, TEXT_REFUSED) if reason is not None else TEXT_REFUSED
