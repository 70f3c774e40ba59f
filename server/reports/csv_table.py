"""The report's figures as one CSV, every figure one row of the same layout:

    section, measure, key, name_zh, name_en, value

``section`` and ``measure`` are fixed English words (below), ``key`` what the row is about
(a week's first day, a category key, an item's tag, a channel, an alarm kind, a hut id;
empty for a total), the names its Chinese and English names where it has them, ``value``
the number (a share as a fraction, 0.9722; days and hours to two decimals). A rating's
comment is the value of its row (measure: its score, key: its day), without its author.
UTF-8 with a byte-order mark, so Excel and WPS open the Chinese as Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from server.domain.alarms import ALARM_NAMES, ANOMALY_NAMES
from server.reports.figures import Count, MonthlyFigures
from toolhut.i18n import gettext

HEADER = ("section", "measure", "key", "name_zh", "name_en", "value")
CsvRow = tuple[str, str, str, str, str, str]


def _row(
    section: str, measure: str, value: object, key: str = "", zh: str = "", en: str = ""
) -> CsvRow:
    return (section, measure, key, zh, en, str(value))


def _counts(section: str, measure: str, counts: Iterable[Count]) -> Iterator[CsvRow]:
    for c in counts:
        yield _row(section, measure, c.count, c.key, c.name_zh, c.name_en)


def _named(
    section: str, measure: str, counts: Iterable[Count], names: dict[str, str]
) -> Iterator[CsvRow]:
    for c in counts:
        text = names.get(c.key, "")
        zh, en = (gettext(text, "zh_CN"), gettext(text, "en")) if text else ("", "")
        yield _row(section, measure, c.count, c.key, zh, en)


def rows(figures: MonthlyFigures) -> list[CsvRow]:
    f = figures
    out: list[CsvRow] = [
        _row("report", "month", f.month),
        _row("report", "hut", f.hut_id or "", zh=f.hut_name),
        _row("report", "timezone", f.timezone),
        _row("report", "counted_until", f.until.isoformat()),
        _row("loans", "total", f.loans),
    ]
    out += _counts("loans_by_week", "loans", f.loans_by_week)
    out += _counts("loans_by_category", "loans", f.loans_by_category)
    out += _counts("top_items", "loans", f.top_items)
    out += _counts("never_borrowed", "loans", f.never_borrowed)
    late = f.lateness
    out += [
        _row("overdue", "due", late.due),
        _row("overdue", "late", late.late),
        _row("overdue", "rate", round(late.rate, 4)),
        _row("overdue", "average_days_late", late.average_days_late),
    ]
    out += _counts("reminders", "sent", f.reminders_by_channel)
    r = f.ratings
    out += [_row("ratings", "count", r.count), _row("ratings", "average", r.average)]
    out += [_row("ratings", "score", n, str(score)) for score, n in enumerate(r.by_score, 1)]
    out += [
        _row("rating_comments", str(c.score), c.comment, c.day.isoformat(), c.item_zh, c.item_en)
        for c in r.comments
    ]
    w = f.wishes
    out += [
        _row("wishes", "proposed", w.proposed),
        _row("wishes", "deliberated", w.deliberated),
        _row("wishes", "handled", w.handled),
        _row("wishes", "declined", w.declined),
        _row("wishes", "evaluated", w.evaluated),
    ]
    for p in f.partners:
        out += [
            _row("partners", "items_donated", p.items, p.name),
            _row("partners", "wishes_fulfilled", p.wishes, p.name),
        ]
    out.append(_row("seniors", "served", f.seniors_served))
    out += _named("alarms", "raised", f.alarms_by_kind, dict(ALARM_NAMES))
    out += _named("anomalies", "found", f.anomalies_by_kind, dict(ANOMALY_NAMES))
    for a in f.availability:
        out += [
            _row("availability", "share_online", a.share_online, a.hut_id),
            _row("availability", "offline_hours", a.offline_hours, a.hut_id),
        ]
    out.append(_row("availability", "share_online", f.share_online))
    return out


def to_csv(figures: MonthlyFigures) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows(figures))
    return buffer.getvalue().encode("utf-8-sig")
