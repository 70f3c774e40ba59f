"""Reminder texts in Chinese and English: one message lists every item of the member.

A message whose items are at different stages (one due tomorrow, two overdue) is worded
by its most pressing stage's template (title, intro, the hut display) and marks each item
with its own stage's ``note``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.domain.lending import MAX_DISPLAY_BYTES
from server.domain.reminders import ReminderLine

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


_ZH_OUTRO = "请按时归还到工具屋，方便邻居使用。谢谢！"
_EN_OUTRO = "Please bring it back to the tool hut so your neighbours can use it. Thank you!"
# An item's line in a message listing items at several stages, followed by its note.
_MIXED_LINE = {"zh": "· {item}（{hut}），还期 {due}", "en": "- {item} ({hut}), due {due}"}

TEMPLATES: Mapping[tuple[str, str], Template] = {
    ("due_soon", "zh"): Template(
        "工具屋：借用物品即将到期",
        "{name}您好，您借用的 {count} 件物品将在 24 小时内到期：",
        "· {item}（{hut}），还期 {due}",
        _ZH_OUTRO,
        "{item}等{count}件明天到期",
        intro_mixed="{name}您好，您借用的 {count} 件物品快到还期了：",
        note="，即将到期",
    ),
    ("due_soon", "en"): Template(
        "Tool hut: items due soon",
        "Hello {name}, {count} item(s) you borrowed are due within 24 hours:",
        "- {item} ({hut}), due {due}",
        _EN_OUTRO,
        "{count} item(s) due soon",
        intro_mixed="Hello {name}, {count} item(s) you borrowed are coming due:",
        note=", due soon",
    ),
    ("due_today", "zh"): Template(
        "工具屋：借用物品今天到期",
        "{name}您好，您借用的 {count} 件物品今天到期：",
        "· {item}（{hut}），还期 {due}",
        _ZH_OUTRO,
        "{item}等{count}件今天到期",
        intro_mixed="{name}您好，您借用的 {count} 件物品中有今天到期的：",
        note="，今天到期",
    ),
    ("due_today", "en"): Template(
        "Tool hut: items due today",
        "Hello {name}, {count} item(s) you borrowed are due today:",
        "- {item} ({hut}), due {due}",
        _EN_OUTRO,
        "{count} item(s) due today",
        intro_mixed="Hello {name}, of the {count} item(s) you borrowed, some are due today:",
        note=", due today",
    ),
    ("overdue", "zh"): Template(
        "工具屋：借用物品已逾期",
        "{name}您好，您借用的 {count} 件物品已逾期，请尽快归还：",
        "· {item}（{hut}），还期 {due}，已逾期 {days} 天",
        "如有困难请联系社区工作人员。谢谢！",
        "请尽快归还{item}等{count}件",
        intro_mixed="{name}您好，您借用的 {count} 件物品中有已逾期的，请尽快归还：",
        note="，已逾期 {days} 天",
    ),
    ("overdue", "en"): Template(
        "Tool hut: items overdue",
        "Hello {name}, {count} item(s) you borrowed are overdue; please bring them back:",
        "- {item} ({hut}), due {due}, {days} day(s) overdue",
        "If something is in the way, please talk to the community staff. Thank you!",
        "{count} item(s) overdue",
        intro_mixed="Hello {name}, of the {count} item(s) you borrowed, some are overdue; "
        "please bring them back:",
        note=", {days} day(s) overdue",
    ),
    ("manual", "zh"): Template(
        "工具屋：归还提醒",
        "{name}您好，社区工作人员提醒您，您目前借用 {count} 件物品：",
        "· {item}（{hut}），还期 {due}",
        _ZH_OUTRO,
        "请记得归还{item}等{count}件",
    ),
    ("manual", "en"): Template(
        "Tool hut: a reminder",
        "Hello {name}, the community staff remind you of {count} item(s) you borrowed:",
        "- {item} ({hut}), due {due}",
        _EN_OUTRO,
        "{count} item(s) to return",
    ),
    ("escalation", "zh"): Template(
        "工具屋：逾期 7 天以上，请跟进",
        "{name}（{unit}）借用的 {count} 件物品逾期已超过 7 天：",
        "· {item}（{hut}），还期 {due}，已逾期 {days} 天",
        "请工作人员联系该居民。",
        "",
        intro_mixed="{name}（{unit}）借用的 {count} 件物品中有逾期已超过 7 天的：",
        note="，已逾期 {days} 天",
    ),
    ("escalation", "en"): Template(
        "Tool hut: overdue more than 7 days",
        "{name} ({unit}) has {count} item(s) more than 7 days overdue:",
        "- {item} ({hut}), due {due}, {days} day(s) overdue",
        "Please follow up with the resident.",
        "",
        intro_mixed="{name} ({unit}) has {count} item(s) out, some more than 7 days overdue:",
        note=", {days} day(s) overdue",
    ),
    ("restock", "zh"): Template(
        "工具屋：耗材需要补货",
        "以下耗材需要补货（{count} 项）：",
        "· {item}（{hut}）：{detail}",
        "",
        "",
    ),
    ("restock", "en"): Template(
        "Tool hut: restock needed",
        "{count} consumable(s) need restocking:",
        "- {item} ({hut}): {detail}",
        "",
        "",
    ),
    ("expiry", "zh"): Template(
        "工具屋：物品即将过期或已过期",
        "以下物品即将过期或已过期（{count} 项）：",
        "· {item}（{hut}），有效期至 {due}，{detail}",
        "请工作人员检查并更换。",
        "",
        when="%Y-%m-%d",
    ),
    ("expiry", "en"): Template(
        "Tool hut: items expiring",
        "{count} item(s) are expiring or have expired:",
        "- {item} ({hut}), use by {due}, {detail}",
        "Please check and replace them.",
        "",
        when="%Y-%m-%d",
    ),
    # The ledger's notification requests (kind -> template), sent to the member.
    ("reservation_ready", "zh"): Template(
        "工具屋：您预约的物品可以领取了",
        "{name}您好，您预约的物品已回到工具屋，为您保留到 {due}：",
        "· {item}（{hut}）",
        "请在保留期内刷卡领取，逾期将留给下一位预约的邻居。",
        "您预约的{item}已可领取",
        when="%m月%d日 %H:%M",
    ),
    ("reservation_ready", "en"): Template(
        "Tool hut: your reserved item is back",
        "Hello {name}, the item you reserved is back at the tool hut, held for you until {due}:",
        "- {item} ({hut})",
        "Please pick it up before then; after that it goes to the next neighbour in line.",
        "Reserved item ready",
        when="%d %b %H:%M",
    ),
    # Alarms for staff (server/alarms/notifier.py): one template for both languages, each
    # text Chinese first with English beside; a line's item is the alarm's name, its
    # detail the alarm's number and state.
    ("alarm", "zh"): Template(
        "工具屋告警 / Tool hut alarm",
        "工具屋发生告警，请尽快查看 / an alarm at the tool hut, please look into it now:",
        "· {item}（{hut}）{due}，{detail}",
        "查看后请在工作人员系统中确认并处理 / acknowledge and resolve it in the staff API",
        "",
        when="%Y-%m-%d %H:%M:%S",
    ),
    ("alarm_reminder", "zh"): Template(
        "工具屋告警仍无人确认 / Tool hut alarm not acknowledged yet",
        "以下告警仍无人确认 / nobody has acknowledged this alarm yet:",
        "· {item}（{hut}）{due}，{detail}",
        "查看后请在工作人员系统中确认并处理 / acknowledge and resolve it in the staff API",
        "",
        when="%Y-%m-%d %H:%M:%S",
    ),
    # Any other notification kind: the ledger's own text, as it wrote it.
    ("notice", "zh"): Template("工具屋通知", "{name}您好：", "{detail}", "", "{item}"),
    ("notice", "en"): Template("Tool hut notice", "Hello {name}:", "{detail}", "", "{item}"),
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
) -> Rendered:
    """``template``: the message's; a line's own ``template`` (its stage's) wins for it.
    The message's template leads while one of its lines is left (returned loans drop out
    before a retry), else the earliest due line's."""
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
            rows.append(_MIXED_LINE["en" if english else "zh"].format(**fields) + note)
        else:
            rows.append(chosen.line.format(**fields))
    first_due = _when(lines[0], chosen) if lines else ""
    intro = (chosen.intro_mixed if mixed else "") or chosen.intro
    intro = intro.format(name=name, unit=unit, count=len(lines), due=first_due)
    body = "\n".join(part for part in (intro, *rows, chosen.outro) if part)
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
