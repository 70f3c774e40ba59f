"""Micro-wishes (微心愿): what residents propose the hut should have, taken through the
community's four steps, 提议办评: **proposed** (提, by a resident, or entered by staff
from paper, WeChat or the hotline), **deliberated** (议, the meeting's date and what it
decided), **handled** (办: bought, donated by a partner organisation, lent by a
neighbour, or declined with a reason), **evaluated** (评: the proposer and the supporters
rate the outcome, 1 to 5).

The steps only go forward, one at a time; each is refused with its reason when the wish is
not where the step starts from. Rules only: no database here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.record_errors import FieldError
from toolhut.i18n import N_, bilingual


class WishStatus(StrEnum):
    PROPOSED = "proposed"
    DELIBERATED = "deliberated"
    HANDLED = "handled"
    EVALUATED = "evaluated"


class WishChannel(StrEnum):
    """How a wish reached the hut (the seed community collects them every way it can)."""

    PHONE = "phone"  # the resident's own phone page
    PAPER = "paper"  # the wish box or a form, entered by staff
    WECHAT = "wechat"
    HOTLINE = "hotline"
    VISIT = "visit"  # a home visit
    MEETING = "meeting"  # raised at the monthly meeting


class WishOutcome(StrEnum):
    BOUGHT = "bought"
    DONATED = "donated"  # by a partner organisation: names it
    LENT = "lent"  # a neighbour lends theirs to the hut
    DECLINED = "declined"  # with the reason


STATUS_NAMES = {
    WishStatus.PROPOSED: N_("proposed"),
    WishStatus.DELIBERATED: N_("deliberated"),
    WishStatus.HANDLED: N_("handled"),
    WishStatus.EVALUATED: N_("evaluated"),
}
OUTCOME_NAMES = {
    WishOutcome.BOUGHT: N_("bought"),
    WishOutcome.DONATED: N_("donated by a partner"),
    WishOutcome.LENT: N_("lent by a neighbour"),
    WishOutcome.DECLINED: N_("declined"),
}

# Which step starts from which status; a rating may also follow other ratings.
# (``evaluate`` is the step the first rating takes: later ratings leave the status.)
STARTS_FROM = {
    "deliberate": frozenset({WishStatus.PROPOSED}),
    "handle": frozenset({WishStatus.DELIBERATED}),
    "evaluate": frozenset({WishStatus.HANDLED}),
    "rate": frozenset({WishStatus.HANDLED, WishStatus.EVALUATED}),
    "support": frozenset({WishStatus.PROPOSED, WishStatus.DELIBERATED}),
}
AFTER = {
    "deliberate": WishStatus.DELIBERATED,
    "handle": WishStatus.HANDLED,
    "evaluate": WishStatus.EVALUATED,
}

# Why a step does not apply now, by step.
TEXT_WRONG_STEP = {
    "deliberate": bilingual("the meeting deliberates a wish once, after it is proposed"),
    "handle": bilingual("a wish is handled once, after the meeting has deliberated it"),
    "rate": bilingual("a wish is rated after it has been handled"),
    "evaluate": bilingual("a wish is rated after it has been handled"),
    "support": bilingual("a wish takes support until it is handled"),
}
TEXT_REASON_NEEDED = bilingual("a declined wish needs the reason")
TEXT_PARTNER_NEEDED = bilingual("a donation names the partner organisation")
TEXT_PARTNER_ONLY_DONATED = bilingual("only a donation names a partner organisation")
TEXT_NO_ITEM_DECLINED = bilingual("a declined wish brought no item")
TEXT_TOO_MANY_WAITING = bilingual(
    "you have {count} wishes waiting for the meeting already: propose more once it has "
    "deliberated them"
)

# The wishes a resident's own phone may have waiting for the meeting at once: the meeting
# reads every one, and one phone should not fill its agenda (staff enter any number).
WAITING_PER_RESIDENT = 5


class WishStepError(Exception):
    """The wish is not where the step starts from (a 409): ``reason`` is its status now."""

    def __init__(self, status: WishStatus, step: str) -> None:
        super().__init__(TEXT_WRONG_STEP[step])
        self.reason = status.value
        self.text = TEXT_WRONG_STEP[step]


def check_step(status: WishStatus, step: str) -> WishStatus | None:
    """The status after ``step`` (None: the step leaves it, a support), or WishStepError."""
    if status not in STARTS_FROM[step]:
        raise WishStepError(status, step)
    return AFTER.get(step)


@dataclass(frozen=True, slots=True)
class Handling:
    outcome: WishOutcome
    note: str
    partner_id: int | None
    has_item: bool = False


def proposal_errors(channel: WishChannel, waiting: int) -> list[FieldError]:
    """Whether a resident with ``waiting`` wishes proposed on the same channel, none yet
    deliberated, may propose one more."""
    if channel is WishChannel.PHONE and waiting >= WAITING_PER_RESIDENT:
        return [FieldError("proposed_by", TEXT_TOO_MANY_WAITING.format(count=waiting))]
    return []


def handling_errors(handling: Handling) -> list[FieldError]:
    """What is missing or out of place in how a wish was handled."""
    errors = []
    if handling.outcome is WishOutcome.DECLINED and not handling.note.strip():
        errors.append(FieldError("note", TEXT_REASON_NEEDED))
    if handling.outcome is WishOutcome.DONATED and handling.partner_id is None:
        errors.append(FieldError("partner_id", TEXT_PARTNER_NEEDED))
    if handling.outcome is not WishOutcome.DONATED and handling.partner_id is not None:
        errors.append(FieldError("partner_id", TEXT_PARTNER_ONLY_DONATED))
    if handling.outcome is WishOutcome.DECLINED and handling.has_item:
        errors.append(FieldError("item", TEXT_NO_ITEM_DECLINED))
    return errors
