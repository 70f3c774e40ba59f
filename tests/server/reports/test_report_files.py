"""The CSV and both PDFs of the known November (month_ledger.py): the CSV's figures, the
PDF's Chinese (and English) text extracted back, its charts drawn, and nobody's personal
data in any of them."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.reports import service
from server.reports.figures import Month
from server.storage.report_queries import LOAN_RATINGS

from . import month_ledger as ledger
from .month_ledger import AFTER, EXPECTED_HUT, utc
from .pdf_readback import bar_pixels, first_page, pdf_text

PERSONAL = ("张阿姨", "李师傅", "3-201", "5-502", ledger.ZHANG, ledger.LI)


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel and WPS read it as UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def values(rows: list[dict[str, str]], section: str, measure: str) -> list[tuple[str, str]]:
    return [
        (r["key"], r["value"]) for r in rows if (r["section"], r["measure"]) == (section, measure)
    ]


def value(rows: list[dict[str, str]], section: str, measure: str, key: str = "") -> str:
    [found] = [v for k, v in values(rows, section, measure) if k == key]
    return found


@pytest.fixture
def built(sessions: sessionmaker[Session], engine: Engine) -> service.BuiltReport:
    ledger.build(sessions)
    with engine.begin() as conn:
        conn.execute(
            LOAN_RATINGS.insert(),
            [
                {
                    "loan_id": 3,
                    "item_id": 1,
                    "hut_id": "demo-hut",
                    "member_id": 1,
                    "score": 4,
                    "comment": "钻头有点钝了",
                    "source": "phone",
                    "rated_at": utc(11, 5),
                }
            ],
        )
    with sessions() as db:
        return service.build(db, month=Month.parse(ledger.NOVEMBER), hut_id="demo-hut", now=AFTER)


def test_the_csv_has_the_streams_figures(built: service.BuiltReport) -> None:
    rows = csv_rows(built.csv)
    want = EXPECTED_HUT
    assert list(rows[0]) == ["section", "measure", "key", "name_zh", "name_en", "value"]
    assert value(rows, "report", "month") == "2026-11"
    assert value(rows, "loans", "total") == str(want["loans"])
    assert values(rows, "loans_by_week", "loans") == [(d, str(n)) for d, n in want["weeks"]]
    assert values(rows, "loans_by_category", "loans") == [
        (k, str(n)) for k, n in want["categories"]
    ]
    assert values(rows, "top_items", "loans") == [(k, str(n)) for k, n in want["top"]]
    assert [k for k, _ in values(rows, "never_borrowed", "loans")] == want["never"]
    assert value(rows, "overdue", "due") == "5" and value(rows, "overdue", "late") == "3"
    assert value(rows, "overdue", "rate") == "0.6"
    assert value(rows, "overdue", "average_days_late") == str(want["average_days_late"])
    assert values(rows, "reminders", "sent") == [(k, str(n)) for k, n in want["reminders"]]
    assert [value(rows, "wishes", m) for m in ("proposed", "deliberated", "handled")] == [
        "2",
        "2",
        "2",
    ]
    assert value(rows, "partners", "items_donated", "幸福里物业") == "1"
    assert value(rows, "partners", "wishes_fulfilled", "幸福里物业") == "1"
    assert value(rows, "seniors", "served") == "1"
    assert value(rows, "alarms", "raised", "hut_offline") == "2"
    assert value(rows, "anomalies", "found", "return_not_on_loan") == "2"
    assert value(rows, "availability", "share_online", "demo-hut") == str(want["share_online"])
    assert value(rows, "availability", "offline_hours", "demo-hut") == str(want["offline_hours"])
    assert value(rows, "ratings", "count") == "1" and value(rows, "ratings", "score", "4") == "1"
    [comment] = [r for r in rows if r["section"] == "rating_comments"]
    assert (comment["measure"], comment["name_zh"], comment["value"]) == (
        "4",
        "电钻",
        "钻头有点钝了",
    )
    top = next(r for r in rows if r["section"] == "top_items")
    assert (top["name_zh"], top["name_en"]) == ("电钻", "Power drill")


def test_the_chinese_pdf_reads_back_in_chinese(built: service.BuiltReport) -> None:
    text = pdf_text(built.pdfs["zh_CN"])
    for expected in (
        "工具屋月度报告",
        "2026-11",
        "幸福里社区工具屋",
        "按周借用",
        "电钻",
        "电动工具",
        "逾期率",
        "60.0%",
        "8.69",
        "微心愿",
        "幸福里物业",
        "60岁以上",
        "钻头有点钝了",
        "97.2%",
    ):
        assert expected in text, expected
    assert "Power drill" not in text


def test_the_english_pdf_reads_back_in_english(built: service.BuiltReport) -> None:
    text = pdf_text(built.pdfs["en"])
    for expected in ("Tool hut monthly report", "Power drill", "Overdue rate", "60.0%"):
        assert expected in text, expected


def test_the_charts_are_drawn(built: service.BuiltReport) -> None:
    page = first_page(built.pdfs["zh_CN"])
    # Two charts of bars (6 weeks, 4 categories): thousands of bar-coloured pixels at 72 dpi.
    assert bar_pixels(page) > 3000
    text = pdf_text(built.pdfs["zh_CN"])
    assert "11-09" in text  # the weeks' axis labels are text too


def test_no_personal_data_in_any_file(built: service.BuiltReport) -> None:
    readable = [built.csv.decode("utf-8-sig"), *(pdf_text(p) for p in built.pdfs.values())]
    for text in readable:
        for secret in PERSONAL:
            assert secret not in text


def test_a_month_with_nothing_still_makes_a_report(sessions: sessionmaker[Session]) -> None:
    ledger.build(sessions)
    with sessions() as db:
        empty = service.build(db, month=Month(2025, 2), hut_id=None, now=AFTER)
    assert "Tool hut monthly report" in pdf_text(empty.pdfs["en"])
    rows = csv_rows(empty.csv)
    assert value(rows, "loans", "total") == "0"
    assert value(rows, "availability", "share_online") == "1.0"
