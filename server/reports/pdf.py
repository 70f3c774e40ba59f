"""The report as a PDF in one language (Chinese or English), drawn with reportlab: the
headline, a bar chart of the loans by week and one by category (reportlab.graphics, no
image files), then a table per section. Chinese is set in the CJK font the labels use
(labels/fonts.py: the bundled WenQuanYi Micro Hei), embedded, so the text extracts back."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from server.domain.alarms import ALARM_NAMES, ANOMALY_NAMES
from server.reminders.zones import hut_zone
from server.reports import texts as t
from server.reports.figures import Count, MonthlyFigures
from toolhut.i18n import gettext

NEVER_SHOWN = 30  # items never borrowed listed in the PDF; the CSV has them all
TIME = "%Y-%m-%d %H:%M"
BAR = "#2f7d5b"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def render_pdf(figures: MonthlyFigures, *, lang: str, built_at: datetime) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from labels.fonts import find_font

    font = find_font().pdf_name
    _ = lambda text: gettext(text, lang)  # noqa: E731
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11, textColor=colors.grey)
    h1 = ParagraphStyle("h1", parent=body, fontSize=18, leading=24, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4)
    f = figures
    zone = hut_zone(f.timezone)
    scope = _(t.HUT).format(name=f.hut_name, id=f.hut_id) if f.hut_id is not None else _(t.DISTRICT)

    def table(rows: Sequence[Sequence[object]], widths: Sequence[float] | None = None) -> Any:
        cells = [[Paragraph(str(cell), body) for cell in row] for row in rows]
        grid = Table(cells, colWidths=widths, hAlign="LEFT")
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return grid

    def counted(counts: Sequence[Count], names: dict[str, str] | None = None) -> list[Any]:
        if not counts:
            return [Paragraph(_(t.NONE), body)]
        rows: list[list[object]] = [[_(t.WHAT), _(t.COUNT)]]
        for c in counts:
            name = _(names[c.key]) if names and c.key in names else c.name(lang)
            rows.append([name, c.count])
        return [table(rows, [120 * mm, 30 * mm])]

    late = f.lateness
    story: list[Any] = [
        Paragraph(_(t.TITLE), h1),
        Paragraph(_(t.SUBTITLE).format(month=f.month, scope=scope), body),
        Paragraph(
            _(t.BUILT).format(at=built_at.astimezone(zone).strftime(TIME), zone=f.timezone), small
        ),
    ]
    if not f.complete:
        until = f.until.astimezone(zone).strftime(TIME)
        story.append(Paragraph(_(t.NOT_OVER).format(until=until), body))
    story += [
        Paragraph(_(t.HEADLINE), h2),
        table(
            [
                [_(t.WHAT), _(t.COUNT)],
                [_(t.LOANS), f.loans],
                [_(t.RATE), percent(late.rate)],
                [_(t.SENIORS), f.seniors_served],
                [_(t.PROPOSED), f.wishes.proposed],
                [_(t.ONLINE), percent(f.share_online)],
            ],
            [120 * mm, 30 * mm],
        ),
        Paragraph(_(t.LOANS_BY_WEEK), h2),
        _bars(
            [_(t.WEEK_OF).format(day=c.key[5:]) for c in f.loans_by_week],
            [c.count for c in f.loans_by_week],
            font=font,
        ),
        Paragraph(_(t.LOANS_BY_CATEGORY), h2),
        _bars(
            [c.name(lang) for c in f.loans_by_category],
            [c.count for c in f.loans_by_category],
            font=font,
        ),
        *counted(f.loans_by_category),
        Paragraph(_(t.TOP_ITEMS), h2),
        *counted(f.top_items),
        Paragraph(_(t.NEVER_BORROWED), h2),
    ]
    never = f.never_borrowed
    shown = "、" if lang != "en" else ", "
    story.append(
        Paragraph(
            shown.join(f"{c.name(lang)} ({c.key})" for c in never[:NEVER_SHOWN]) or _(t.NONE), body
        )
    )
    if len(never) > NEVER_SHOWN:
        story.append(Paragraph(_(t.NEVER_MORE).format(count=len(never) - NEVER_SHOWN), small))
    story += [
        Paragraph(_(t.OVERDUE), h2),
        table(
            [
                [_(t.WHAT), _(t.COUNT)],
                [_(t.DUE), late.due],
                [_(t.LATE), late.late],
                [_(t.RATE), percent(late.rate)],
                [_(t.DAYS_LATE), f"{late.average_days_late:.2f}"],
            ],
            [120 * mm, 30 * mm],
        ),
        Paragraph(_(t.REMINDERS), h2),
        *counted(f.reminders_by_channel),
        Paragraph(_(t.RATINGS), h2),
    ]
    r = f.ratings
    if not r.available:
        story.append(Paragraph(_(t.RATINGS_NONE), body))
    else:
        rows: list[list[object]] = [
            [_(t.WHAT), _(t.COUNT)],
            [_(t.RATINGS_COUNT), r.count],
            [_(t.RATINGS_AVERAGE), f"{r.average:.2f}"],
        ]
        rows += [[_(t.SCORE).format(score=s), n] for s, n in enumerate(r.by_score, 1)]
        story.append(table(rows, [120 * mm, 30 * mm]))
        if r.comments:
            story.append(Paragraph(_(t.COMMENTS), h2))
            story.append(
                table(
                    [[_(t.ITEM), "", _(t.COMMENTS)]]
                    + [
                        [c.item_en if lang == "en" else c.item_zh, "★" * c.score, c.comment]
                        for c in r.comments
                    ],
                    [40 * mm, 25 * mm, 105 * mm],
                )
            )
    w = f.wishes
    story += [
        Paragraph(_(t.WISHES), h2),
        table(
            [
                [_(t.WHAT), _(t.COUNT)],
                [_(t.PROPOSED), w.proposed],
                [_(t.DELIBERATED), w.deliberated],
                [_(t.HANDLED), w.handled],
                [_(t.DECLINED), w.declined],
                [_(t.EVALUATED), w.evaluated],
            ],
            [120 * mm, 30 * mm],
        ),
        Paragraph(_(t.PARTNERS), h2),
    ]
    if f.partners:
        story.append(
            table(
                [[_(t.WHAT), _(t.PARTNER_ITEMS), _(t.PARTNER_WISHES)]]
                + [[p.name, p.items, p.wishes] for p in f.partners],
                [90 * mm, 35 * mm, 45 * mm],
            )
        )
    else:
        story.append(Paragraph(_(t.NONE), body))
    story += [
        Paragraph(_(t.SENIORS), h2),
        Paragraph(str(f.seniors_served), body),
        Paragraph(_(t.ALARMS), h2),
        *counted(f.alarms_by_kind, dict(ALARM_NAMES)),
        Paragraph(_(t.ANOMALIES), h2),
        *counted(f.anomalies_by_kind, dict(ANOMALY_NAMES)),
        Paragraph(_(t.AVAILABILITY), h2),
        table(
            [[_(t.WHAT), _(t.ONLINE), _(t.OFFLINE_HOURS)]]
            + [
                [a.hut_id, percent(a.share_online), f"{a.offline_hours:.1f}"]
                for a in f.availability
            ],
            [90 * mm, 35 * mm, 45 * mm],
        ),
        Spacer(1, 2 * mm),
        Paragraph(_(t.HOW_AVAILABLE), small),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title=f"{_(t.TITLE)} {f.month}",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        invariant=True,
    )
    doc.build(story)
    return out.getvalue()


def _bars(labels: Sequence[str], values: Sequence[int], *, font: str) -> Any:
    """A bar chart of ``values`` under ``labels``, with each bar's number above it."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.units import mm

    drawing = Drawing(170 * mm, 55 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 12 * mm, 10 * mm
    chart.width, chart.height = 150 * mm, 40 * mm
    chart.data = [list(values) or [0]]
    chart.categoryAxis.categoryNames = list(labels) or [""]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.valueMin = 0
    top = max(values, default=0)
    chart.valueAxis.valueMax = max(top, 1) * 1.2
    chart.valueAxis.valueStep = max(1, round(max(top, 1) / 4))
    chart.bars[0].fillColor = colors.HexColor(BAR)
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    drawing.add(chart)
    return drawing
