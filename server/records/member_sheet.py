"""Members as a spreadsheet (the Sheet of server.tabular.spec): one row per member, ``id``
blank for a new one, so an export imports back onto the same members.

Rows are checked with the API's own field types (records.member_fields.MemberRow) and
against the database with a few bulk queries whatever the number of rows (existing ids,
huts, cards), so 10,000 rows check in well under a second. A row's ``card`` is bound to
its member on import through the rule book (server.access_actions), as the huts an
existing member may open; a new member's huts are written with the member (nobody could
open anything with them before the import, and the cards bound after it mark the change).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from server import access_actions
from server.domain.actors import Actor
from server.domain.record_errors import FieldError
from server.records.member_fields import MemberRow, field_errors
from server.records.members import TEXT_NO_HUT, missing_huts, new_member, set_flags, values
from server.storage import access_changes
from server.storage.audit import Stamp, record_many
from server.storage.models import Card, Member, MemberHut
from server.tabular.spec import VERSION, Column, SheetRow, cells, stale, versions
from toolhut.i18n import bilingual

# What staff read: Chinese first, English beside it.
TEXT_NO_MEMBER = bilingual("no member with id {id}")
TEXT_ERASED = bilingual("member {id}'s personal data was erased")
TEXT_ID_TWICE = bilingual("member {id} is on two rows (line {line})")
TEXT_CARD_TAKEN = bilingual("the card belongs to member {member_id}")
TEXT_CARD_TWICE = bilingual("the card is on two rows (line {line})")

_CHUNK = 5000  # ids per IN list: well inside SQLite's and PostgreSQL's bind limits


def _chunks(values: Collection[Any]) -> Iterator[list[Any]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _parsed(rows: Sequence[SheetRow]) -> tuple[list[tuple[int, MemberRow]], list[FieldError]]:
    good, errors = [], []
    for row in rows:
        try:
            good.append((row.line, MemberRow.model_validate(cells(row))))
        except ValidationError as exc:
            errors.extend(field_errors(exc, line=row.line))
    return good, errors


class MemberSheet:
    kind = "members"
    columns: tuple[Column, ...] = (
        Column("id", "编号", "id"),
        Column("name", "姓名", "name", required=True),
        Column("building_unit", "楼栋单元", "building and unit", required=True),
        Column("phone", "电话", "phone"),
        Column("language", "语言", "language"),
        Column("flags", "标记", "flags"),
        Column("huts", "可用工具屋", "huts"),
        Column("card", "卡号", "card"),
        VERSION,
    )

    def check(self, db: Session, rows: Sequence[SheetRow]) -> list[FieldError]:
        parsed, errors = _parsed(rows)
        given, version_errors = versions(rows)
        errors.extend(version_errors)
        ids = {row.id for _, row in parsed if row.id is not None}
        erased: dict[int, bool] = {}
        current: dict[int, int] = {}
        for part in _chunks(ids):
            query = select(Member.id, Member.erased_at, Member.version).where(Member.id.in_(part))
            for key, at, version in db.execute(query):
                erased[key] = at is not None
                current[key] = version
        huts = missing_huts(db, {hut for _, row in parsed for hut in row.huts})
        uids = {row.card for _, row in parsed if row.card is not None}
        holders: dict[str, int] = {}
        for part in _chunks(uids):
            held = select(Card.uid, Card.member_id).where(Card.uid.in_(part))
            holders.update((uid, member_id) for uid, member_id in db.execute(held))
        seen_ids: dict[int, int] = {}
        seen_cards: dict[str, int] = {}
        for line, row in parsed:
            errors.extend(self._row_errors(line, row, erased, huts, holders, seen_ids, seen_cards))
            if row.id is not None and not erased.get(row.id, True):
                changed = stale(line, row.id, given, current)
                if changed is not None:
                    errors.append(changed)
        return sorted(errors, key=lambda e: (e.line or 0, e.field))

    @staticmethod
    def _row_errors(
        line: int,
        row: MemberRow,
        erased: dict[int, bool],
        huts: set[str],
        holders: dict[str, int],
        seen_ids: dict[int, int],
        seen_cards: dict[str, int],
    ) -> Iterable[FieldError]:
        if row.id is not None:
            if row.id not in erased:
                yield FieldError("id", TEXT_NO_MEMBER.format(id=row.id), line)
            elif erased[row.id]:
                yield FieldError("id", TEXT_ERASED.format(id=row.id), line)
            if row.id in seen_ids:
                yield FieldError("id", TEXT_ID_TWICE.format(id=row.id, line=seen_ids[row.id]), line)
            seen_ids.setdefault(row.id, line)
        for hut in sorted(row.huts & huts):
            yield FieldError("huts", TEXT_NO_HUT.format(hut=hut), line)
        if row.card is not None:
            holder = holders.get(row.card)
            if holder is not None and holder != row.id:
                yield FieldError("card", TEXT_CARD_TAKEN.format(member_id=holder), line)
            if row.card in seen_cards:
                text = TEXT_CARD_TWICE.format(line=seen_cards[row.card])
                yield FieldError("card", text, line)
            seen_cards.setdefault(row.card, line)

    def write(self, db: Session, rows: Sequence[SheetRow], *, actor: Actor, now: datetime) -> int:
        parsed, errors = _parsed(rows)
        assert not errors, "write() is given rows check() passed"
        stamp = Stamp(actor, now)
        existing = self._members(db, {row.id for _, row in parsed if row.id is not None})
        entries: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]] = []
        cards: list[tuple[Member, str]] = []
        new: list[tuple[Member, MemberRow]] = []
        for _, row in parsed:
            if row.id is None:
                member = self._new_member(row, now)
                new.append((member, row))
            else:
                member = existing[row.id]
                change = self._update(db, member, row)
                if change is not None:
                    entries.append((member.id, *change))
            if row.card is not None and row.card not in {c.uid for c in member.cards}:
                cards.append((member, row.card))
        if new:
            db.add_all(member for member, _ in new)
            db.flush()
            entries.extend((member.id, None, _values(member)) for member, _ in new)
            if any(row.huts for _, row in new):
                access_changes.mark(db)
        access_actions.add_new_cards(db, cards, stamp=stamp)
        record_many(
            db, actor=actor, action="member.import", entity="member", at=now, entries=entries
        )
        db.flush()
        return len(entries)

    @staticmethod
    def _members(db: Session, ids: Collection[int]) -> dict[int, Member]:
        found: dict[int, Member] = {}
        for part in _chunks(ids):
            query = (
                select(Member)
                .options(selectinload(Member.cards), selectinload(Member.hut_rows))
                .where(Member.id.in_(part))
            )
            found.update((m.id, m) for m in db.scalars(query))
        return found

    @staticmethod
    def _new_member(row: MemberRow, now: datetime) -> Member:
        member = new_member(row, now=now)
        member.hut_rows = [MemberHut(hut_id=hut) for hut in sorted(row.huts)]
        return member

    @staticmethod
    def _update(
        db: Session, member: Member, row: MemberRow
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The row's values on ``member`` (the huts through the rule book); (before, after)
        of what changed, None if nothing did."""
        before = _values(member)
        after = row.model_dump(include=set(before))
        changed = sorted(key for key in after if after[key] != before[key])
        if not changed:
            return None
        for key in ("name", "building_unit", "phone", "language"):
            setattr(member, key, after[key])
        set_flags(member, row.flags)
        if row.huts != member.huts:
            access_actions.set_member_huts(db, member_id=member.id, huts=row.huts)
        member.version = Member.version + 1
        return {k: before[k] for k in changed}, {k: after[k] for k in changed}

    def export(self, db: Session) -> Iterator[dict[str, str]]:
        query = (
            select(Member)
            .options(selectinload(Member.hut_rows))
            .where(Member.erased_at.is_(None))
            .order_by(Member.id)
        )
        cards: dict[int, str] = {}
        for uid, member_id in db.execute(select(Card.uid, Card.member_id).order_by(Card.uid)):
            cards.setdefault(member_id, uid)
        for member in db.scalars(query):
            cells = {
                "id": str(member.id),
                "name": member.name,
                "building_unit": member.building_unit,
                "phone": member.phone or "",
                "language": member.language,
                "flags": ",".join(sorted(member.flags)),
                "huts": ",".join(sorted(member.huts)),
                "card": cards.get(member.id, ""),
                "version": str(member.version),
            }
            yield cells


def _values(member: Member) -> dict[str, Any]:
    """What the sheet holds of a member, as the audit log keeps it (no contacts)."""
    return {key: value for key, value in values(member, ()).items() if key != "contacts"}


SHEET = MemberSheet()
