"""The console's monthly reports page: the kept reports with their downloads, and the form
that builds one now (staff and admins; a viewer is refused, see test_page_roles.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.roles import Role
from server.storage.report_models import MonthlyReport
from server.storage.staff_models import AuditEntry
from tests.server.reports import month_ledger as ledger
from tests.server.reports.pdf_readback import pdf_text
from tests.support.console import Console

PAGE = "/console/reports"


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(MonthlyReport)) or 0)


def test_build_keep_and_download(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ledger.build(sessions)
    staff = signed_in(Role.STAFF)
    page = staff.get(PAGE)
    assert page.status_code == 200 and "尚未保存任何报告" in page.text
    assert 'value="2026-10"' in page.text  # last month, by the test's clock (Nov 27)
    done = staff.post(PAGE, {"month": "2026-11", "hut": "demo-hut", "language": "both"})
    assert done.status_code == 303, done.text
    page = staff.get(done.headers["location"])
    assert "报告已生成" in page.text and page.text.count("2026-11") >= 2
    with sessions() as db:
        ids = sorted(db.scalars(select(MonthlyReport.id)))
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "report.build"))
        assert entry.entity_id == "2026-11:demo-hut"
    assert len(ids) == 2
    assert f'href="/console/reports/{ids[0]}.pdf"' in page.text
    pdf = staff.get(f"{PAGE}/{ids[0]}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "toolhut-report-2026-11-demo-hut" in pdf.headers["content-disposition"]
    assert "共享工具屋月度报告" in pdf_text(pdf.content) + pdf_text(
        staff.get(f"{PAGE}/{ids[1]}.pdf").content
    )
    csv = staff.get(f"{PAGE}/{ids[0]}.csv")
    assert csv.status_code == 200 and b"report,month,,,,2026-11" in csv.content
    assert staff.get(f"{PAGE}/{ids[0]}.exe").status_code == 404
    assert staff.get(f"{PAGE}/99999.pdf").status_code == 404


def test_bad_fields_are_said_beside_the_form_and_nothing_kept(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ledger.build(sessions)
    staff = signed_in(Role.STAFF)
    bad_month = staff.post(PAGE, {"month": "2026-13", "hut": "", "language": "both"}, page=PAGE)
    assert bad_month.status_code == 422 and "月份请写成 2026-11。" in bad_month.text
    assert 'value="2026-13"' in bad_month.text  # what was typed stays
    no_hut = staff.post(PAGE, {"month": "2026-11", "hut": "nowhere", "language": "en"}, page=PAGE)
    assert no_hut.status_code == 422 and "没有这个工具屋" in no_hut.text
    no_lang = staff.post(PAGE, {"month": "2026-11", "hut": "", "language": "fr"}, page=PAGE)
    assert no_lang.status_code == 422
    assert count(sessions) == 0


def test_one_language_of_the_district_in_english(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    ledger.build(sessions)
    admin = signed_in(Role.ADMIN)
    done = admin.post(PAGE, {"month": "2026-11", "hut": "", "language": "en"}, page=PAGE)
    assert done.status_code == 303
    with sessions() as db:
        [kept] = db.scalars(select(MonthlyReport)).all()
        assert (kept.hut_id, kept.language) == (None, "en")
    assert "全街道" in admin.get(PAGE).text


def test_a_viewer_may_not_open_it(
    signed_in: Callable[[Role], Console], sessions: sessionmaker[Session]
) -> None:
    viewer = signed_in(Role.VIEWER)
    assert viewer.get(PAGE).status_code == 403
