"""Reminder texts in Chinese and English: one message lists every item of the member."""

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
    line: str  # {item}, {hut}, {due}, {days}, {member}, {unit}
    outro: str
    display: str  # {item}, {count}: the hut display, at most 64 UTF-8 bytes


_ZH_OUTRO = "请按时归还到工具屋，方便邻居使用。谢谢！"
_EN_OUTRO = "Please bring it back to the tool hut so your neighbours can use it. Thank you!"

TEMPLATES: Mapping[tuple[str, str], Template] = {
    ("due_soon", "zh"): Template(
        "工具屋：借用物品即将到期",
        "{name}您好，您借用的 {count} 件物品将在 24 小时内到期：",
        "· {item}（{hut}），还期 {due}",
        _ZH_OUTRO,
        "{item}等{count}件明天到期",
    ),
    ("due_soon", "en"): Template(
        "Tool hut: items due soon",
        "Hello {name}, {count} item(s) you borrowed are due within 24 hours:",
        "- {item} ({hut}), due {due}",
        _EN_OUTRO,
        "{count} item(s) due soon",
    ),
    ("due_today", "zh"): Template(
        "工具屋：借用物品今天到期",
        "{name}您好，您借用的 {count} 件物品今天到期：",
        "· {item}（{hut}），还期 {due}",
        _ZH_OUTRO,
        "{item}等{count}件今天到期",
    ),
    ("due_today", "en"): Template(
        "Tool hut: items due today",
        "Hello {name}, {count} item(s) you borrowed are due today:",
        "- {item} ({hut}), due {due}",
        _EN_OUTRO,
        "{count} item(s) due today",
    ),
    ("overdue", "zh"): Template(
        "工具屋：借用物品已逾期",
        "{name}您好，您借用的 {count} 件物品已逾期，请尽快归还：",
        "· {item}（{hut}），还期 {due}，已逾期 {days} 天",
        "如有困难请联系社区工作人员。谢谢！",
        "请尽快归还{item}等{count}件",
    ),
    ("overdue", "en"): Template(
        "Tool hut: items overdue",
        "Hello {name}, {count} item(s) you borrowed are overdue; please bring them back:",
        "- {item} ({hut}), due {due}, {days} day(s) overdue",
        "If something is in the way, please talk to the community staff. Thank you!",
        "{count} item(s) overdue",
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
    ),
    ("escalation", "en"): Template(
        "Tool hut: overdue more than 7 days",
        "{name} ({unit}) has {count} item(s) more than 7 days overdue:",
        "- {item} ({hut}), due {due}, {days} day(s) overdue",
        "Please follow up with the resident.",
        "",
    ),
    ("restock", "zh"): Template(
        "工具屋：耗材需要补货", "以下耗材需要补货（{count} 项）：", "· {item}（{hut}）", "", ""
    ),
    ("restock", "en"): Template(
        "Tool hut: restock needed",
        "{count} consumable(s) need restocking:",
        "- {item} ({hut})",
        "",
        "",
    ),
    ("expiry", "zh"): Template(
        "工具屋：物品即将过期",
        "以下物品即将过期（{count} 项）：",
        "· {item}（{hut}），到期 {due}",
        "",
        "",
    ),
    ("expiry", "en"): Template(
        "Tool hut: items expiring",
        "{count} item(s) are expiring:",
        "- {item} ({hut}), expires {due}",
        "",
        "",
    ),
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
    chosen = TEMPLATES.get((template, locale)) or TEMPLATES.get((template, "zh"))
    if chosen is None:
        raise UnknownTemplateError(template)
    english = locale == "en"
    rows = [
        chosen.line.format(
            item=(line.item_en or line.item_zh) if english else line.item_zh,
            hut=line.hut,
            due=line.due_at.astimezone(line.tz).strftime("%Y-%m-%d %H:%M"),
            days=line.overdue_days(now),
            member=line.member,
            unit=line.building_unit,
        )
        for line in lines
    ]
    intro = chosen.intro.format(name=name, unit=unit, count=len(lines))
    body = "\n".join(part for part in (intro, *rows, chosen.outro) if part)
    first = lines[0].item_zh if lines else ""
    return Rendered(chosen.title, body, _fit(chosen.display, item=first, count=len(lines)))


def known_template(template: str) -> bool:
    return (template, "zh") in TEMPLATES


def _fit(display: str, *, item: str, count: int) -> str:
    text = display.format(item=item, count=count)
    while len(text.encode()) > MAX_DISPLAY_BYTES and item:
        item = item[:-1]
        text = display.format(item=item + "…", count=count)
    return text
