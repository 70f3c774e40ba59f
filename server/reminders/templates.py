"""Reminder texts in Chinese and English: one message lists every item of the member.

A message whose items are at different stages (one due tomorrow, two overdue) is worded
by its most pressing stage's template (title, intro, the hut display) and marks each item
with its own stage's ``note``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime

from server.domain.lending import MAX_DISPLAY_BYTES
from server.domain.reminders import ReminderLine
from toolhut.i18n import N_, bilingual, gettext, language

LOCALES = ("zh", "en")


class UnknownTemplateError(KeyError):
    """A policy names a template that does not exist."""


@dataclass(frozen=True, slots=True)
class Template:
    title: str
    intro: str  # {name}, {count}
    line: str  # {item}, {hut}, {due}, {days}, {member}, {unit}, {detail}
    outro: str
    display: str  # {item}, {count}, {due}: the hut display, at most 64 UTF-8 bytes
    when: str = "%Y-%m-%d %H:%M"  # how {due} is written
    # When the message lists items at several stages: the intro if this template leads
    # ("" : ``intro``), and what follows an item of this template's stage ({days}).
    intro_mixed: str = ""
    note: str = ""


# Each template's texts in English, marked for the catalogues; TEMPLATES holds them in each
# language (a member's: their language setting). Where the wording differs (the Chinese
# display names the first item), the Chinese translation says it its own way.
_OUTRO = N_("Please bring it back to the tool hut so your neighbours can use it. Thank you!")
_LINE = N_("- {item} ({hut}), due {due}")
_LINE_OVERDUE = N_("- {item} ({hut}), due {due}, {days} day(s) overdue")
_NOTE_OVERDUE = N_(", {days} day(s) overdue")
# An item's line in a message listing items at several stages, followed by its note.
_MIXED_LINE = _LINE
# The last line of every message to a member: their own page ({url}: <public_base_url>/me).
MY_PAGE_LINE = N_("Your loans, renewals and waiting lists: {url}")

_ENGLISH: Mapping[str, Template] = {
    "due_soon": Template(
        N_("Tool hut: items due soon"),
        N_("Hello {name}, {count} item(s) you borrowed are due within 24 hours:"),
        _LINE,
        _OUTRO,
        N_("{count} item(s) due soon"),
        intro_mixed=N_("Hello {name}, {count} item(s) you borrowed are coming due:"),
        note=N_(", due soon"),
    ),
    "due_today": Template(
        N_("Tool hut: items due today"),
        N_("Hello {name}, {count} item(s) you borrowed are due today:"),
        _LINE,
        _OUTRO,
        N_("{count} item(s) due today"),
        intro_mixed=N_("Hello {name}, of the {count} item(s) you borrowed, some are due today:"),
        note=N_(", due today"),
    ),
    "overdue": Template(
        N_("Tool hut: items overdue"),
        N_("Hello {name}, {count} item(s) you borrowed are overdue; please bring them back:"),
        _LINE_OVERDUE,
        N_("If something is in the way, please talk to the community staff. Thank you!"),
        N_("{count} item(s) overdue"),
        intro_mixed=N_(
            "Hello {name}, of the {count} item(s) you borrowed, some are overdue; "
            "please bring them back:"
        ),
        note=_NOTE_OVERDUE,
    ),
    "manual": Template(
        N_("Tool hut: a reminder"),
        N_("Hello {name}, the community staff remind you of {count} item(s) you borrowed:"),
        _LINE,
        _OUTRO,
        N_("{count} item(s) to return"),
    ),
    "escalation": Template(
        N_("Tool hut: overdue more than 7 days"),
        N_("{name} ({unit}) has {count} item(s) more than 7 days overdue:"),
        _LINE_OVERDUE,
        N_("Please follow up with the resident."),
        "",
        intro_mixed=N_("{name} ({unit}) has {count} item(s) out, some more than 7 days overdue:"),
        note=_NOTE_OVERDUE,
    ),
    "restock": Template(
        N_("Tool hut: restock needed"),
        N_("{count} consumable(s) need restocking:"),
        N_("- {item} ({hut}): {detail}"),
        "",
        "",
    ),
    "expiry": Template(
        N_("Tool hut: items expiring"),
        N_("{count} item(s) are expiring or have expired:"),
        N_("- {item} ({hut}), use by {due}, {detail}"),
        N_("Please check and replace them."),
        "",
        when="%Y-%m-%d",
    ),
    # The ledger's notification requests (kind -> template), sent to the member.
    "reservation_ready": Template(
        N_("Tool hut: your reserved item is back"),
        N_(
            "Hello {name}, the item you reserved is back at the tool hut, held for you until {due}:"
        ),
        N_("- {item} ({hut})"),
        N_("Please pick it up before then; after that it goes to the next neighbour in line."),
        N_("Reserved item ready"),
        when=N_("%d %b %H:%M"),  # how a date is written differs too
    ),
    # A resident's sign-in code ({item}, as shown) and link ({detail}), which lasts until
    # {due}; asked for on the sign-in page, sent to the member's own channel.
    "sign_in": Template(
        N_("Tool hut: your sign-in code"),
        N_("Hello {name}, here is your code to sign in to the tool hut on your phone:"),
        N_("Code: {item} - or open this link, until {due}: {detail}"),
        N_(
            "Type the code within a few minutes. If you did not ask for it, ignore this "
            "message: nobody can sign in without it."
        ),
        "",
    ),
    # Any other notification kind: the ledger's own text, as it wrote it.
    "notice": Template(N_("Tool hut notice"), N_("Hello {name}:"), "{detail}", "", "{item}"),
}


def _in(template: Template, lang: str) -> Template:
    """``template``'s texts in ``lang`` (a catalogue's name); an empty text stays empty
    (gettext would give the catalogue's header for it)."""
    return replace(
        template,
        **{
            field.name: gettext(text, lang) if (text := getattr(template, field.name)) else ""
            for field in fields(template)
        },
    )


# Alarms for staff (server/alarms/notifier.py): one template for both languages, each text
# Chinese first with English beside; a line's item is the alarm's name, its detail the
# alarm's number and state.
_ALARM_OUTRO = bilingual("acknowledge and resolve it in the staff API")
_ALARM_LINE = "· {item}（{hut}）{due}，{detail}"
_ALARMS: Mapping[str, Template] = {
    "alarm": Template(
        bilingual("Tool hut alarm"),
        bilingual("an alarm at the tool hut, please look into it now:"),
        _ALARM_LINE,
        _ALARM_OUTRO,
        "",
        when="%Y-%m-%d %H:%M:%S",
    ),
    "alarm_reminder": Template(
        bilingual("Tool hut alarm not acknowledged yet"),
        bilingual("nobody has acknowledged this alarm yet:"),
        _ALARM_LINE,
        _ALARM_OUTRO,
        "",
        when="%Y-%m-%d %H:%M:%S",
    ),
}

# The monthly report's message for staff (server/reports/monthly_send.py): its line's item
# is the report's month and scope, its detail the headline and where to download it, each
# Chinese then English.
_REPORTS: Mapping[str, Template] = {
    "monthly_report": Template(
        bilingual("Tool hut monthly report"), "", "{item}\n{detail}", "", ""
    ),
}

TEMPLATES: Mapping[tuple[str, str], Template] = {
    **{
        (name, locale): _in(template, language(locale))
        for name, template in _ENGLISH.items()
        for locale in LOCALES
    },
    **{(name, "zh"): template for name, template in _ALARMS.items()},
    **{(name, "zh"): template for name, template in _REPORTS.items()},
}


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str
    display: str


def render(
    template: str,
    locale: str,
    *,
    name: str,
    unit: str,
    lines: Sequence[ReminderLine],
    now: datetime,
    my_page: str | None = None,
) -> Rendered:
    """``template``: the message's; a line's own ``template`` (its stage's) wins for it.
    The message's template leads while one of its lines is left (returned loans drop out
    before a retry), else the earliest due line's. ``my_page``: the link to the member's
    own page, the message's last line (None: a message to staff)."""
    kinds = [line.template or template for line in lines]
    chosen = _template(template if template in kinds or not kinds else kinds[0], locale)
    mixed = len(set(kinds)) > 1
    english = locale == "en"
    rows = []
    for line, kind in zip(lines, kinds, strict=True):
        fields = {
            "item": (line.item_en or line.item_zh) if english else line.item_zh,
            "hut": line.hut,
            "due": _when(line, chosen),
            "days": line.overdue_days(now),
            "member": line.member,
            "unit": line.building_unit,
            "detail": _detail(line, english=english),
        }
        if mixed:
            note = _template(kind, locale).note.format(**fields)
            mixed_line = gettext(_MIXED_LINE, language(locale))
            rows.append(mixed_line.format(**fields) + note)
        else:
            rows.append(chosen.line.format(**fields))
    first_due = _when(lines[0], chosen) if lines else ""
    intro = (chosen.intro_mixed if mixed else "") or chosen.intro
    intro = intro.format(name=name, unit=unit, count=len(lines), due=first_due)
    link = gettext(MY_PAGE_LINE, language(locale)).format(url=my_page) if my_page else ""
    body = "\n".join(part for part in (intro, *rows, chosen.outro, link) if part)
    first = lines[0].item_zh if lines else ""
    display = _fit(chosen.display, item=first, count=len(lines), due=first_due)
    return Rendered(chosen.title, body, display)


def _template(name: str, locale: str) -> Template:
    chosen = TEMPLATES.get((name, locale)) or TEMPLATES.get((name, "zh"))
    if chosen is None:
        raise UnknownTemplateError(name)
    return chosen


def _when(line: ReminderLine, template: Template) -> str:
    return line.due_at.astimezone(line.tz).strftime(template.when)


def _detail(line: ReminderLine, *, english: bool) -> str:
    return (line.detail_en or line.detail_zh) if english else line.detail_zh


def known_template(template: str) -> bool:
    return (template, "zh") in TEMPLATES


def _fit(display: str, *, item: str, count: int, due: str = "") -> str:
    text = display.format(item=item, count=count, due=due)
    while len(text.encode()) > MAX_DISPLAY_BYTES and item:
        item = item[:-1]
        text = display.format(item=item + "…", count=count, due=due)
    return text
