"""``toolhut server report``, run as the command runs it (toolhut_cli.main)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.storage.report_models import MonthlyReport
from server.storage.staff_models import AuditEntry
from toolhut_cli.cli import main

from . import month_ledger as ledger
from .pdf_readback import pdf_text


def run(db_url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(["server", "report", "--db", db_url, *args])
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_writes_both_pdfs_and_the_csv(
    db_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger.build(sessions)
    out = tmp_path / "报告"
    code, printed, _ = run(
        db_url, capsys, "--month", "2026-11", "--hut", "demo-hut", "--out", str(out)
    )
    assert code == 0
    stem = "toolhut-report-2026-11-demo-hut"
    assert sorted(p.name for p in out.iterdir()) == [
        f"{stem}.csv",
        f"{stem}.en.pdf",
        f"{stem}.zh_CN.pdf",
    ]
    assert str(out / f"{stem}.csv") in printed
    assert "共享工具屋月度报告" in pdf_text((out / f"{stem}.zh_CN.pdf").read_bytes())
    assert b"loans,total,,,,5" in (out / f"{stem}.csv").read_bytes()
    with sessions() as db:  # not kept without --keep
        assert db.scalar(select(func.count()).select_from(MonthlyReport)) == 0


def test_one_language_for_the_district_kept(
    db_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger.build(sessions)
    code, _, _ = run(
        db_url,
        capsys,
        "--month",
        "2026-11",
        "--lang",
        "en",
        "--keep",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "toolhut-report-2026-11-district.csv",
        "toolhut-report-2026-11-district.en.pdf",
    ]
    with sessions() as db:
        [kept] = db.scalars(select(MonthlyReport)).all()
        assert (kept.month, kept.hut_id, kept.language) == ("2026-11", None, "en")
        assert kept.created_by.startswith("cli:")
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "report.build"))
        assert entry.actor == kept.created_by and entry.entity_id == "2026-11:district"
        assert b"loans,total,,,,6" in kept.csv


@pytest.mark.parametrize("month", ["2026-13", "11/2026", "next"])
def test_a_bad_month_is_refused_with_exit_2(
    db_url: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], month: str
) -> None:
    code, _, err = run(db_url, capsys, "--month", month, "--out", str(tmp_path / "out"))
    assert code == 2
    assert "YYYY-MM" in err or "no such month" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_hut_is_refused_with_exit_2(
    db_url: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        db_url, capsys, "--month", "2026-11", "--hut", "nowhere", "--out", str(tmp_path)
    )
    assert code == 2 and "nowhere" in err and "没有工具屋" in err
