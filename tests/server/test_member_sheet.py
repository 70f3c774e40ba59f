"""The member sheet on its own (the file engine is tested elsewhere): every bad row named,
new and existing members written and audited, cards bound, an export that imports back
unchanged, and 10,000 rows checked quickly."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from server.domain.actors import Actor
from server.records import members
from server.records.member_fields import MemberEdit
from server.records.member_sheet import SHEET
from server.seed import seed_demo
from server.storage.audit import Stamp
from server.storage.models import Card, Hut, Member
from server.storage.staff_models import AuditEntry
from server.tabular.report import ImportReport
from server.tabular.runner import run_export, run_import
from server.tabular.spec import SheetRow
from server.tabular.writing import Format
from tests.support.sql_count import statements

from .conftest import T0

ACTOR = Actor("importer")


def _rows(*cells: dict[str, str]) -> list[SheetRow]:
    return [SheetRow(line, values) for line, values in enumerate(cells, start=2)]


def _zhang(db: Session) -> Member:
    return db.scalars(select(Member).join(Card).where(Card.uid == "04A1B2C3")).one()


def test_every_bad_row_is_named_by_line_and_field(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
        zhang = _zhang(db).id
    rows = _rows(
        {"name": "王大爷", "building_unit": "7-101", "flags": "60+, 老人", "card": "0c0ffee0"},
        {"name": "赵", "building_unit": "1-1", "phone": "电话", "flags": "vip"},
        {"id": "99999", "name": "钱", "building_unit": "2-2"},
        {"name": "孙", "building_unit": "3-3", "huts": "ghost-hut", "card": "04D5E6F7"},
        {"name": "李", "building_unit": "4-4", "card": "0C0FFEE0"},
        {"id": str(zhang), "name": "张阿姨", "building_unit": "3-201", "card": "04a1b2c3"},
        {"building_unit": "5-5", "language": "klingon"},
    )
    with sessions() as db:
        errors = SHEET.check(db, rows)
        assert db.scalar(select(func.count(Member.id))) == 3  # nothing written
    found = {(e.line, e.field) for e in errors}
    assert found == {
        (3, "phone"),
        (3, "flags"),
        (4, "id"),
        (5, "huts"),
        (5, "card"),  # 李师傅's card
        (6, "card"),  # on line 2 already
        (8, "name"),
        (8, "language"),
    }
    assert all(e.reason for e in errors)


def test_write_creates_and_updates_by_id_binds_cards_and_audits(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        seed_demo(db)
        db.add(Hut(id="north-hut", name="北区工具屋"))
        zhang = _zhang(db).id
    rows = _rows(
        {"name": "王大爷", "building_unit": "7-101", "flags": "60+", "card": "0C0FFEE0"},
        {"name": "赵阿姨", "building_unit": "1-101", "huts": "north-hut", "phone": "13900001111"},
        {"id": str(zhang), "name": "张阿姨", "building_unit": "3-202", "card": "04A1B2C3"},
    )
    with sessions.begin() as db:
        assert SHEET.check(db, rows) == []
        assert SHEET.write(db, rows, actor=ACTOR, now=T0) == 3
    with sessions() as db:
        wang = db.scalars(select(Member).where(Member.name == "王大爷")).one()
        assert wang.flags == {"senior"} and [c.uid for c in wang.cards] == ["0C0FFEE0"]
        assert wang.cards[0].bound_at == T0 and wang.created_at == T0
        zhao = db.scalars(select(Member).where(Member.name == "赵阿姨")).one()
        assert zhao.huts == {"north-hut"} and zhao.phone == "13900001111"
        moved = db.get(Member, zhang)
        assert moved is not None and moved.building_unit == "3-202" and moved.version == 2
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "member.import")).all()
        assert len(entries) == 3
        [update] = [e for e in entries if e.entity_id == str(zhang)]
        assert update.before == {"building_unit": "3-201"}
        assert update.after == {"building_unit": "3-202"}
        assert {e.actor for e in entries} == {"importer"}


def test_an_export_imports_back_without_a_change(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    with sessions() as db:
        exported = list(SHEET.export(db))
    assert {c["name"] for c in exported} >= {"张阿姨", "李师傅"}
    assert all(set(c) == {col.key for col in SHEET.columns} for c in exported)
    zhang = next(c for c in exported if c["name"] == "张阿姨")
    assert zhang["card"] == "04A1B2C3"
    rows = _rows(*({k: v for k, v in c.items() if v} for c in exported))
    with sessions.begin() as db:
        assert SHEET.check(db, rows) == []
        assert SHEET.write(db, rows, actor=ACTOR, now=T0) == 0


def test_ten_thousand_rows_are_checked_in_a_few_statements(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    with sessions.begin() as db:
        seed_demo(db)
    rows = _rows(
        *(
            {
                "name": f"住户{n}",
                "building_unit": f"{n % 40}-{n % 300}",
                "phone": f"138{n:08d}",
                "flags": "senior" if n % 5 == 0 else "",
                "huts": "demo-hut",
                "card": f"{0xA0000000 + n:08X}",
            }
            for n in range(10_000)
        )
    )
    rows = [SheetRow(r.line, {k: v for k, v in r.values.items() if v}) for r in rows]
    with sessions() as db, statements(engine) as seen:
        assert SHEET.check(db, rows) == []
    assert len(seen) <= 20, seen  # bulk look-ups, not one per row (bench/import_rows.py times it)


def test_a_member_changed_since_the_export_is_not_overwritten(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        seed_demo(db)
        zhang = _zhang(db).id
    with sessions() as db:
        old = run_export(db, SHEET, Format.CSV)
    with sessions.begin() as db:  # the PATCH after the export
        members.edit(db, zhang, MemberEdit(phone="13911112222"), expected=1, stamp=Stamp(ACTOR, T0))

    def imported(data: bytes) -> ImportReport:
        with sessions.begin() as db:
            return run_import(db, SHEET, data, "m.csv", dry_run=False, actor=ACTOR, now=T0)

    report = imported(old)
    [line] = [n for n, text in enumerate(old.decode("utf-8-sig").splitlines(), 1) if "张" in text]
    assert [(e.line, e.field) for e in report.errors] == [(line, "version")]
    assert "now version 2" in report.errors[0].reason and report.written == 0
    with sessions() as db:
        member = db.get(Member, zhang)
        assert member is not None and member.phone == "13911112222" and member.version == 2
    with sessions() as db:
        fresh = run_export(db, SHEET, Format.CSV)
    assert imported(fresh).written == 0
    # An import bumps what it changes: the same file is then refused for that row only.
    changed = fresh.decode("utf-8-sig").replace("13911112222", "13933334444").encode()
    assert imported(changed).written == 1
    with sessions() as db:
        member = db.get(Member, zhang)
        assert member is not None and member.phone == "13933334444" and member.version == 3
    report = imported(changed)
    assert [(e.line, e.field) for e in report.errors] == [(line, "version")]


def test_a_row_without_a_version_or_with_a_bad_one(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        seed_demo(db)
        zhang = _zhang(db)
        zhang.version = 5
        zhang_id = zhang.id
    row = {"id": str(zhang_id), "name": "张阿姨", "building_unit": "3-201"}
    rows = _rows(
        row, row | {"version": "abc"}, {"name": "新", "building_unit": "1", "version": "2"}
    )
    with sessions() as db:
        errors = SHEET.check(db, rows)
    # Typed by hand (no version): checked as before; a new member's version is not looked at.
    assert [(e.line, e.field) for e in errors] == [(3, "id"), (3, "version")]
