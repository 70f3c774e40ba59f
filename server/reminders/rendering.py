"""A leased delivery's words: the lines of its message (the loans still open, or the lines
the message carries), rendered in the delivery's language for its channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, tzinfo

from server.domain.reminders import Audience, ReminderLine
from server.reminders.channels import Channel, Outgoing, is_shared
from server.reminders.display import display_text
from server.reminders.payloads import NoticeEntry, PayloadEntry
from server.reminders.templates import render
from server.reminders.zones import name_of
from server.storage import reminder_queries as rq
from server.storage.reminder_models import ReminderDelivery, ReminderMessage
from toolhut.i18n import N_, gettext, language


def message_lines(
    message: ReminderMessage,
    entries: Sequence[PayloadEntry] | None,
    *,
    tz: tzinfo,
    huts: Mapping[str, rq.HutPlace],
    live: AbstractSet[int] = frozenset(),
) -> list[ReminderLine]:
    """What is still to tell: the payload's lines (a notice only while ``live``), or the
    message's loans that are still open, earliest due first; each names its hut as
    residents know it (``huts``: the huts' names by id)."""
    if entries is not None:
        return [
            _payload_line(message, entry, tz=tz, hut=name_of(huts, message.hut_id))
            for entry in entries
            if not isinstance(entry, NoticeEntry) or entry.notice_id in live
        ]
    lines = []
    for claim in sorted(message.claims, key=lambda c: c.subject):
        loan = claim.loan
        if loan is None or not rq.is_open(loan):
            continue
        lines.append(
            ReminderLine(
                item_zh=loan.item.name_zh,
                item_en=loan.item.name_en,
                hut=name_of(huts, loan.hut_id),
                due_at=loan.due_at,
                tz=tz,
                member=loan.member.name,
                building_unit=loan.member.building_unit,
                template=claim.template or "",
            )
        )
    return sorted(lines, key=lambda line: line.due_at)


def _payload_line(
    message: ReminderMessage, entry: PayloadEntry, *, tz: tzinfo, hut: str
) -> ReminderLine:
    return ReminderLine(
        item_zh=entry.name_zh,
        item_en=entry.name_en,
        hut=hut,
        due_at=message.created_at if entry.when is None else entry.when,
        tz=tz,
        detail_zh=entry.detail_zh,
        detail_en="" if isinstance(entry, NoticeEntry) else entry.detail_en,
    )


def outgoing(
    message: ReminderMessage,
    delivery: ReminderDelivery,
    channel: Channel,
    *,
    entries: Sequence[PayloadEntry] | None,
    lines: Sequence[ReminderLine],
    now: datetime,
    group_privacy: bool,
    my_page: str | None = None,
) -> Outgoing:
    """The delivery rendered for its channel, in its language; a member's message ends
    with the link to their own page (``my_page``), which a neighbour in a shared group
    opens to their own sign-in, never to this member's loans."""
    member = message.member
    name = "" if member is None else member.name
    unit = "" if member is None else member.building_unit
    if group_privacy and message.audience == Audience.MEMBER and is_shared(channel):
        # A group bot posts to every resident in the group: say whose door to knock
        # on, not who it is.
        name = neighbour(unit, locale=delivery.locale)
    rendered = render(
        message.template,
        delivery.locale,
        name=name,
        unit=unit,
        lines=lines,
        now=now,
        my_page=my_page if message.audience == Audience.MEMBER else None,
    )
    return Outgoing(
        title=rendered.title,
        body=rendered.body,
        display=display_text(rendered.display, entries),
        address=delivery.address,
        member_id=message.member_id if message.audience == Audience.MEMBER else None,
    )


def neighbour(unit: str, *, locale: str) -> str:
    """How a shared channel names a member: by their building and unit."""
    lang = language(locale)
    return (
        gettext(N_("Resident of {unit}"), lang).format(unit=unit)
        if unit
        else gettext(N_("Neighbour"), lang)
    )
