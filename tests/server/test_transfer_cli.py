"""``toolhut server import`` and ``toolhut server export``, run as the command runs them
(toolhut_cli.main), with the tests' categories sheet in the registry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from server.storage.models import ItemCategory
from server.storage.staff_models import AuditEntry
from tests.support.category_sheet import CategorySheet
from toolhut_cli.cli import main

HEADER = "类别代码,中文名称,英文名称,借期天数\n"
GOOD = HEADER + "t_drill,电钻,drill,7\nt_saw,锯子,saw,5\nt_pump,打气筒,pump,1\n"
BAD = HEADER + "t_drill,电钻,drill,7\nt_saw,锯子,saw,999\nt_pump,,pump,1\n"


@pytest.fixture(autouse=True)
def category_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.tabular.sheets.registry", lambda: {"categories": CategorySheet()})


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def toolhut(db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]) -> Run:
    """``toolhut server ACTION --db <the test's, migrated> ARGS...``: exit status, stdout,
    stderr."""

    def run(action: str, *args: str) -> tuple[int, str, str]:
        code = main(["server", action, "--db", db_url, *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def ours(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return sorted(
            db.scalars(
                select(ItemCategory.key).where(ItemCategory.key.startswith("t_", autoescape=True))
            )
        )


def test_import_shows_progress_prints_the_report_and_is_audited_as_the_cli(
    toolhut: Run, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    file = tmp_path / "分类.csv"
    file.write_bytes(GOOD.encode("gbk"))
    code, out, _ = toolhut("import", "categories", str(file), "--dry-run")
    assert code == 0 and "dry run: all 3 rows are fine, nothing written" in out
    assert ours(sessions) == []

    code, out, err = toolhut("import", "categories", str(file))
    assert code == 0 and "imported: 3 rows, 3 records changed" in out
    assert "6/6" in err  # the progress bar: 3 rows checked, 3 written
    assert ours(sessions) == ["t_drill", "t_pump", "t_saw"]
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "import.categories")).one()
    assert entry.actor.startswith("cli:") and entry.entity_id == "分类.csv"


def test_a_bad_row_exits_1_with_every_bad_row_and_writes_nothing(
    toolhut: Run, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    file = tmp_path / "bad.csv"
    file.write_text(BAD, encoding="utf-8-sig")
    code, out, _ = toolhut("import", "categories", str(file))
    assert code == 1
    lines = out.splitlines()
    assert lines[1].split() == ["行", "/", "line", "字段", "/", "field", "原因", "/", "reason"]
    assert [line.split()[:2] for line in lines[2:4]] == [["3", "loan_days"], ["4", "name_zh"]]
    assert "2 problems, nothing written" in lines[-1]
    assert ours(sessions) == []


def test_export_by_suffix_or_format_and_back(toolhut: Run, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(GOOD)
    assert toolhut("import", "categories", str(source))[0] == 0
    xlsx, csv = tmp_path / "out.xlsx", tmp_path / "out.txt"
    assert toolhut("export", "categories", str(xlsx))[0] == 0
    assert toolhut("export", "categories", str(csv), "--format", "csv")[0] == 0
    assert xlsx.read_bytes().startswith(b"PK")
    assert csv.read_bytes().startswith(b"\xef\xbb\xbfkey,name_zh,name_en,loan_days")
    for back in (xlsx, csv):
        code, out, _ = toolhut("import", "categories", str(back))
        assert code == 0 and " rows, 0 records changed" in out


def test_unknown_kinds_and_missing_files_are_exit_2(toolhut: Run, tmp_path: Path) -> None:
    code, _, err = toolhut("import", "ships", str(tmp_path / "x.csv"))
    assert code == 2 and "no such kind: ships (known: categories)" in err
    code, _, err = toolhut("import", "categories", str(tmp_path / "no.csv"))
    assert code == 2 and "cannot read" in err


def test_a_database_without_the_schema_is_exit_2(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "c.csv"
    file.write_text(GOOD)
    assert main(["server", "import", "--db", db_url, "categories", str(file)]) == 2
    assert "run `toolhut server migrate` first?" in capsys.readouterr().err
